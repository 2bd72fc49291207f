// A float buffer aligned to a cache line that only grows: per-thread scratch space of drivers.
#pragma once

#include <cstdlib>
#include <memory>
#include <new>

#include "pyprune/common.h"

namespace pyprune {

class AlignedBuffer {
 public:
  // Room for at least `floats` floats. Returns true when it had to reallocate, which loses
  // the contents.
  bool reserve(size_t floats) {
    if (floats <= capacity_) return false;
    const size_t capacity = pp_round_up(floats, 1024);
    data_.reset(static_cast<float*>(std::aligned_alloc(PP_ALIGNMENT, capacity * sizeof(float))));
    capacity_ = data_ ? capacity : 0;
    if (!data_) throw std::bad_alloc();
    return true;
  }
  float* data() const { return data_.get(); }
  size_t capacity() const { return capacity_; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  size_t capacity_ = 0;
};

}  // namespace pyprune
