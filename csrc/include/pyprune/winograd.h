// The matrices of Winograd's minimal filtering F(m x m, 3 x 3) (Lavin and Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016): an m x m output tile of a 3x3 stride-1
// correlation of an alpha x alpha input patch d (alpha = m + 2) with the filter g is
//   Y = A^T [(G g G^T) * (B^T d B)] A   (* elementwise).
// F(4, 3) interpolates at 0, 1, -1, 2, -2 and infinity; F(6, 3) also at 1/2 and -1/2, whose
// columns of A^T are scaled by 32 (and their rows of G by 1/32) so that every entry of A^T is an
// integer. The reference kernels (csrc/f32-winograd) compute with these tables as they are, the
// weight packer (WinogradConv2d) with G; the SIMD kernels use factored forms of the same
// products (csrc/f32-winograd/winograd-math.h).
#pragma once

#include <cstddef>

namespace pyprune::winograd {

template <size_t M>
struct Matrices;

template <>
struct Matrices<4> {
  static constexpr size_t kAlpha = 6;
  static constexpr double BT[6][6] = {
      {4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
      {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1},
  };
  static constexpr double G[6][3] = {
      {1.0 / 4, 0, 0},
      {-1.0 / 6, -1.0 / 6, -1.0 / 6},
      {-1.0 / 6, 1.0 / 6, -1.0 / 6},
      {1.0 / 24, 1.0 / 12, 1.0 / 6},
      {1.0 / 24, -1.0 / 12, 1.0 / 6},
      {0, 0, 1},
  };
  static constexpr double AT[4][6] = {
      {1, 1, 1, 1, 1, 0},
      {0, 1, -1, 2, -2, 0},
      {0, 1, 1, 4, 4, 0},
      {0, 1, -1, 8, -8, 1},
  };
};

template <>
struct Matrices<6> {
  static constexpr size_t kAlpha = 8;
  static constexpr double BT[8][8] = {
      {1, 0, -21.0 / 4, 0, 21.0 / 4, 0, -1, 0},
      {0, 1, 1, -17.0 / 4, -17.0 / 4, 1, 1, 0},
      {0, -1, 1, 17.0 / 4, -17.0 / 4, -1, 1, 0},
      {0, 1.0 / 2, 1.0 / 4, -5.0 / 2, -5.0 / 4, 2, 1, 0},
      {0, -1.0 / 2, 1.0 / 4, 5.0 / 2, -5.0 / 4, -2, 1, 0},
      {0, 2, 4, -5.0 / 2, -5, 1.0 / 2, 1, 0},
      {0, -2, 4, 5.0 / 2, -5, -1.0 / 2, 1, 0},
      {0, -1, 0, 21.0 / 4, 0, -21.0 / 4, 0, 1},
  };
  static constexpr double G[8][3] = {
      {1, 0, 0},
      {-2.0 / 9, -2.0 / 9, -2.0 / 9},
      {-2.0 / 9, 2.0 / 9, -2.0 / 9},
      {1.0 / 90, 1.0 / 45, 2.0 / 45},
      {1.0 / 90, -1.0 / 45, 2.0 / 45},
      {1.0 / 45, 1.0 / 90, 1.0 / 180},
      {1.0 / 45, -1.0 / 90, 1.0 / 180},
      {0, 0, 1},
  };
  static constexpr double AT[6][8] = {
      {1, 1, 1, 1, 1, 32, 32, 0},    {0, 1, -1, 2, -2, 16, -16, 0}, {0, 1, 1, 4, 4, 8, 8, 0},
      {0, 1, -1, 8, -8, 4, -4, 0},   {0, 1, 1, 16, 16, 2, 2, 0},    {0, 1, -1, 32, -32, 1, -1, 1},
  };
};

}  // namespace pyprune::winograd
