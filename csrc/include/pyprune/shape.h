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

// A 2-D window over the H and W dims of an NCHW tensor (convolution, pooling): kernel, stride
// and dilation per axis, zero padding per side (TF "SAME" pads asymmetrically).
struct Window2d {
  size_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;
  size_t pad_top, pad_left, pad_bottom, pad_right;

  static Window2d square(size_t kernel, size_t stride, size_t padding) {
    return {kernel, kernel, stride, stride, 1, 1, padding, padding, padding, padding};
  }
  // The rows and columns the dilated kernel spans (what it covers of the padded input).
  size_t extent_h() const { return checked_add(checked_mul(dilation_h, kernel_h - 1, "dilation"), 1, "dilation"); }
  size_t extent_w() const { return checked_add(checked_mul(dilation_w, kernel_w - 1, "dilation"), 1, "dilation"); }
  bool symmetric() const { return pad_top == pad_bottom && pad_left == pad_right && pad_top == pad_left; }
  // "3x3", "3x3 s2", "1x7 d2 pad (0, 3, 0, 3)": for messages and reports.
  std::string describe() const {
    std::string s = std::to_string(kernel_h) + "x" + std::to_string(kernel_w);
    if (stride_h != 1 || stride_w != 1)
      s += " s" + (stride_h == stride_w ? std::to_string(stride_h) : std::to_string(stride_h) + "x" + std::to_string(stride_w));
    if (dilation_h != 1 || dilation_w != 1)
      s += " d" + (dilation_h == dilation_w ? std::to_string(dilation_h)
                                            : std::to_string(dilation_h) + "x" + std::to_string(dilation_w));
    return s;
  }
};

// The output of `window` over x, with `channels` channels; std::invalid_argument when the window
// does not fit even with the padding, std::length_error when a size overflows.
inline Shape4 window_output(const Shape4& x, size_t channels, const Window2d& window) {
  const size_t h = checked_add(checked_add(x.h, window.pad_top, "x"), window.pad_bottom, "x");
  const size_t w = checked_add(checked_add(x.w, window.pad_left, "x"), window.pad_right, "x");
  const size_t eh = window.extent_h(), ew = window.extent_w();
  if (h < eh || w < ew) {
    const std::string pads = window.symmetric() ? std::to_string(window.pad_top)
                                                : "(" + std::to_string(window.pad_top) + ", " +
                                                      std::to_string(window.pad_left) + ", " +
                                                      std::to_string(window.pad_bottom) + ", " +
                                                      std::to_string(window.pad_right) + ")";
    const std::string dilated =
        eh != window.kernel_h || ew != window.kernel_w ? " (dilated to " + std::to_string(eh) + "x" + std::to_string(ew) + ")" : "";
    throw std::invalid_argument("x of size " + std::to_string(x.h) + "x" + std::to_string(x.w) + " is smaller than the " +
                                std::to_string(window.kernel_h) + "x" + std::to_string(window.kernel_w) + " kernel" +
                                dilated + " even with padding " + pads);
  }
  Shape4 out{x.n, channels, (h - eh) / window.stride_h + 1, (w - ew) / window.stride_w + 1};
  out.elements("the output");
  return out;
}

// The output of a k x k window over x at this stride and symmetric padding.
inline Shape4 window_output(const Shape4& x, size_t channels, size_t kernel, size_t stride, size_t padding) {
  return window_output(x, channels, Window2d::square(kernel, stride, padding));
}

}  // namespace pyprune
