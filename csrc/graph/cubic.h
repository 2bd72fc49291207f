// Keys' cubic convolution weights with torch's A = -0.75, shared by upsample (bicubic) and
// grid_sample (bicubic).
#pragma once

namespace pyprune::graph {

// The weights of the four inputs around a source coordinate at fraction t past the second one,
// in torch's arithmetic: float, but for t + 1 and 1 - t, which its double literals make double.
inline void cubic_weights(float t, float* w) {
  constexpr float a = -0.75f;
  const auto inner = [](float x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };      // |x| <= 1
  const auto outer = [](float x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; };  // 1 < |x| < 2
  const float rest = static_cast<float>(1.0 - t);
  w[0] = outer(static_cast<float>(t + 1.0));
  w[1] = inner(t);
  w[2] = inner(rest);
  w[3] = outer(static_cast<float>(rest + 1.0));
}

}  // namespace pyprune::graph
