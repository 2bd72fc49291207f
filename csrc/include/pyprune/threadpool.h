// A small fork-join thread pool shared by all operators.
#pragma once

#include <cstddef>
#include <functional>

namespace pyprune {

// Threads used by parallel_for, the calling thread included. Defaults to the core count. A
// forked child starts with a fresh pool of the same size.
// n in [1, kMaxThreads] (capabilities.h): std::invalid_argument otherwise, std::runtime_error
// if the system cannot start the threads (the pool then keeps its size).
void set_num_threads(size_t n);
size_t get_num_threads();

// Runs task(i) for every i in [0, n), spread over the pool; returns when all are done.
// Which thread runs an index never changes what it computes, so results do not depend on
// the number of threads.
void parallel_for(size_t n, const std::function<void(size_t)>& task);

// While one lives, parallel_for called on this thread runs its tasks on it, in order (the
// graph's nodes too small to be worth a second core: handing part of one over and the other
// core's cold caches cost more than the half of the work it would take).
class SerialScope {
 public:
  SerialScope();
  ~SerialScope();
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  bool outer_;
};

}  // namespace pyprune
