// Shapes and size arithmetic that refuses to wrap around: sizes come from users and files.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

namespace pyprune {

// a * b, or std::length_error saying `what` is too large.
inline size_t checked_mul(size_t a, size_t b, const char* what) {
  size_t product;
  if (__builtin_mul_overflow(a, b, &product)) throw std::length_error(std::string(what) + " is too large");
  return product;
}

inline size_t checked_add(size_t a, size_t b, const char* what) {
  size_t sum;
  if (__builtin_add_overflow(a, b, &sum)) throw std::length_error(std::string(what) + " is too large");
  return sum;
}

// An NCHW tensor's shape.
struct Shape4 {
  size_t n, c, h, w;

  // n * c * h * w, checked against overflow of the byte size as float32.
  size_t elements(const char* what) const {
    const size_t e = checked_mul(checked_mul(checked_mul(n, c, what), h, what), w, what);
    checked_mul(e, sizeof(float), what);
    return e;
  }
  size_t plane() const { return h * w; }
  bool operator==(const Shape4& o) const { return n == o.n && c == o.c && h == o.h && w == o.w; }
};

inline std::string to_string(const Shape4& s) {
  return "(" + std::to_string(s.n) + ", " + std::to_string(s.c) + ", " + std::to_string(s.h) + ", " +
         std::to_string(s.w) + ")";
}

// The output of a k x k window over x at this stride and symmetric padding, with
// `channels` channels; std::invalid_argument when the window does not fit even with the
// padding, std::length_error when a size overflows.
inline Shape4 window_output(const Shape4& x, size_t channels, size_t kernel, size_t stride, size_t padding) {
  const size_t pad2 = checked_mul(2, padding, "padding");
  const size_t h = checked_add(x.h, pad2, "x"), w = checked_add(x.w, pad2, "x");
  if (h < kernel || w < kernel)
    throw std::invalid_argument("x of size " + std::to_string(x.h) + "x" + std::to_string(x.w) + " is smaller than the " +
                                std::to_string(kernel) + "x" + std::to_string(kernel) + " kernel even with padding " +
                                std::to_string(padding));
  Shape4 out{x.n, channels, (h - kernel) / stride + 1, (w - kernel) / stride + 1};
  out.elements("the output");
  return out;
}

}  // namespace pyprune
