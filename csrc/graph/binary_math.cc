// Binary functions of float32 with numpy broadcasting, as torch computes them:
// - floor_divide and remainder: torch.floor_divide(a, b) and torch.remainder(a, b) (Python's //
//   and %), the quotient rounded towards -inf, the remainder taking b's sign. Both are exact on
//   integers, which is how an index tensor (indexing.cc) is split into a row and a column
//   (YOLOv10's `index // nc`, `index % nc`);
// - atan2 (angles of box offsets), pow with a tensor exponent, fmod (C's remainder, the
//   dividend's sign) and hypot, by libm.
// Not on a hot path: one strided loop, rows in parallel.
#include <cmath>

#include "binary_operator.h"
#include "parallel_rows.h"
#include "pyprune/graph/factories.h"

namespace pyprune::graph {
namespace {

// fmod's remainder moved to b's sign.
float remainder(float a, float b) {
  float r = std::fmod(a, b);
  if (r != 0.0f && (b < 0.0f) != (r < 0.0f)) r += b;
  return r;
}

// (a - fmod(a, b)) / b is an integer up to rounding; it is moved down where the remainder had
// the other sign and rounded to the nearest integer, as torch does.
float floor_divide(float a, float b) {
  if (b == 0.0f) return a / b;
  const float r = std::fmod(a, b);
  float q = (a - r) / b;
  if (r != 0.0f && (b < 0.0f) != (r < 0.0f)) q -= 1.0f;
  if (q == 0.0f) return std::copysign(0.0f, a / b);
  float f = std::floor(q);
  if (q - f > 0.5f) f += 1.0f;
  return f;
}

float arc_tangent(float a, float b) { return std::atan2(a, b); }
float power(float a, float b) { return std::pow(a, b); }
float c_remainder(float a, float b) { return std::fmod(a, b); }
float hypotenuse(float a, float b) { return std::hypot(a, b); }

class BinaryMath final : public BinaryOperator {
 public:
  BinaryMath(const Attributes& attrs, const char* name, float (*f)(float, float))
      : BinaryOperator(attrs), name_(name), f_(f) {
    attrs.only({});
  }

  void run(const std::vector<const float*>& in, const std::vector<Dims>& in_shapes, const std::vector<float*>& out,
           const std::vector<Dims>& out_shapes) const override {
    const Dims& y = out_shapes[0];
    const StridedLoop<3> loop = broadcast_loop(in_shapes, y);
    if (loop.empty()) return;
    const ptrdiff_t sa = loop.inner_stride(1), sb = loop.inner_stride(2);
    parallel_rows(loop.rows(), loop.inner(), [&](size_t row, size_t rows, size_t begin, size_t end) {
      loop.for_rows(row, rows, [&](const StridedLoop<3>::Offsets& at) {
        for (size_t i = begin; i < end; i++) {
          const ptrdiff_t j = static_cast<ptrdiff_t>(i);
          out[0][at[0] + j] = f_(in[0][at[1] + j * sa], in[1][at[2] + j * sb]);
        }
      });
    });
  }

  std::string describe() const override { return name_; }

 private:
  const char* name_;
  float (*f_)(float, float);
};

}  // namespace

std::unique_ptr<Operator> make_floor_divide(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<BinaryMath>(attrs, "floor_divide", floor_divide);
}
std::unique_ptr<Operator> make_remainder(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<BinaryMath>(attrs, "remainder", remainder);
}
std::unique_ptr<Operator> make_atan2(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<BinaryMath>(attrs, "atan2", arc_tangent);
}
std::unique_ptr<Operator> make_pow(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<BinaryMath>(attrs, "pow", power);
}
std::unique_ptr<Operator> make_fmod(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<BinaryMath>(attrs, "fmod", c_remainder);
}
std::unique_ptr<Operator> make_hypot(const Attributes& attrs, const std::vector<const Constant*>&) {
  return std::make_unique<BinaryMath>(attrs, "hypot", hypotenuse);
}

}  // namespace pyprune::graph
