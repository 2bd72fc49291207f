// Fork-join pool, partitioned as XNNPACK's pthreadpool does: each thread owns a contiguous
// range of the indices and takes from its front; a thread that runs out takes from the back of
// another's range, so uneven tasks and late threads still balance. Between calls a worker
// spins briefly before it sleeps: layers of a network come back to back and last tens of
// microseconds, less than waking a sleeping thread takes.
// Workers start on first use, and a forked child gets a fresh pool of the same size.
#include "pyprune/threadpool.h"

#include <pthread.h>

#include "pyprune/capabilities.h"
#include "pyprune/common.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PP_SPIN_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define PP_SPIN_PAUSE() __asm__ __volatile__("yield")
#else
#define PP_SPIN_PAUSE() ((void)0)
#endif

namespace pyprune {
namespace {

constexpr auto kSpinTime = std::chrono::microseconds(200);

thread_local bool inside_task = false;

// Waits for done() by spinning, for at most kSpinTime; returns done(). After a short pure
// spin it yields the core at every turn: another library's threads (torch's OpenMP) may be
// spinning on the same cores, and the thread being waited for may be the one that needs it.
template <typename Done>
bool spin_until(Done done) {
  for (int i = 0; i < 256; i++) {
    if (done()) return true;
    PP_SPIN_PAUSE();
  }
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  while (!done()) {
    std::this_thread::yield();
    if (std::chrono::steady_clock::now() > deadline) return done();
  }
  return true;
}

class ThreadPool {
 public:
  explicit ThreadPool(size_t threads) : threads_(threads), ranges_(new Range[threads]) {}

  // std::invalid_argument for a count outside [1, kMaxThreads]; std::runtime_error if the
  // system cannot start that many threads, the pool then keeping its previous size.
  void resize(size_t threads) {
    require(threads_rejects(threads));
    std::lock_guard<std::mutex> call(call_mutex_);
    const size_t before = threads_;
    stop_workers();
    set_size(threads);
    try {
      start_workers();
    } catch (const std::system_error& e) {
      stop_workers();
      set_size(before);
      throw std::runtime_error("cannot start " + std::to_string(threads) + " threads (" + e.what() +
                               "); keeping " + std::to_string(before));
    }
  }

  size_t size() {
    std::lock_guard<std::mutex> call(call_mutex_);
    return threads_;
  }
  // For a forked child, where call_mutex_ may be held by a thread that no longer exists.
  size_t size_unlocked() const { return threads_; }

  void run(size_t n, const std::function<void(size_t)>& task) {
    if (n == 0) return;
    // A task that calls parallel_for again runs its inner loop on its own thread.
    if (inside_task) return run_inline(n, task);
    std::lock_guard<std::mutex> call(call_mutex_);  // one parallel_for at a time
    if (threads_ == 1 || n == 1) return run_inline(n, task);
    if (workers_.empty()) start_workers();
    PP_ASSERT(n <= kMaxIndex);
    // Every range of the previous call is empty (all its tasks ran), so no thread can claim
    // anything until the ranges below are stored: task_ and size_ are set before that.
    task_ = &task;
    size_.store(n, std::memory_order_relaxed);
    finished_.store(0, std::memory_order_relaxed);
    for (size_t t = 0; t < threads_; t++)
      ranges_[t].word.store(range(n * t / threads_, n * (t + 1) / threads_), std::memory_order_release);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    drain(0);
    // Only tasks are waited for, never idle workers: a worker that wakes late finds every
    // range empty and claims nothing.
    auto all_done = [this] { return finished_.load() == size_.load(std::memory_order_relaxed); };
    if (!spin_until(all_done)) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, all_done);
    }
    task_ = nullptr;
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  static void run_inline(size_t n, const std::function<void(size_t)>& task) {
    struct Restore {
      bool outer = inside_task;
      ~Restore() { inside_task = outer; }
    } restore;
    inside_task = true;
    for (size_t i = 0; i < n; i++) task(i);
  }

  // The indices [begin, end) a thread has left, in one word: begin << 32 | end. Own cache
  // lines (two: adjacent-line prefetch), so a thread taking from its own range touches only
  // its own lines until it steals.
  struct alignas(128) Range {
    std::atomic<uint64_t> word{0};
  };
  static constexpr uint64_t kMaxIndex = 0xffffffffu;
  static uint64_t range(uint64_t begin, uint64_t end) { return begin << 32 | end; }

  // Takes the first index left in `r` (its owner), or the last (a thread that ran out).
  static bool take_front(Range& r, size_t* index) {
    uint64_t w = r.word.load(std::memory_order_acquire);
    while ((w >> 32) < (w & kMaxIndex)) {
      if (r.word.compare_exchange_weak(w, w + (uint64_t{1} << 32), std::memory_order_acquire)) {
        *index = static_cast<size_t>(w >> 32);
        return true;
      }
    }
    return false;
  }
  static bool take_back(Range& r, size_t* index) {
    uint64_t w = r.word.load(std::memory_order_acquire);
    while ((w >> 32) < (w & kMaxIndex)) {
      if (r.word.compare_exchange_weak(w, w - 1, std::memory_order_acquire)) {
        *index = static_cast<size_t>((w & kMaxIndex) - 1);
        return true;
      }
    }
    return false;
  }

  // Runs thread `self`'s share of the call: its own range from the front (the same part of
  // every call, so consecutive operators split alike find their data in this core's caches),
  // then what the others have left, from the back. The first exception is kept and rethrown
  // on the calling thread; the remaining tasks still run.
  void drain(size_t self) {
    inside_task = true;
    size_t done = 0, i;
    auto run_one = [&](size_t index) {
      try {
        (*task_)(index);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      done++;
    };
    while (take_front(ranges_[self], &i)) run_one(i);
    for (size_t k = 1; k < threads_; k++) {
      Range& other = ranges_[(self + k) % threads_];
      while (take_back(other, &i)) run_one(i);
    }
    inside_task = false;
    // One update per thread and call, not per task: the counter's line moves between cores.
    if (done != 0 && finished_.fetch_add(done) + done == size_.load(std::memory_order_relaxed)) {
      std::lock_guard<std::mutex> lock(mutex_);  // the caller may be about to sleep
      done_.notify_one();
    }
  }

  void work(size_t self) {
    uint64_t seen = generation_.load();
    for (;;) {
      auto called = [&] { return stop_.load() || generation_.load() != seen; };
      if (!spin_until(called)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, called);
      }
      if (stop_.load()) return;
      seen = generation_.load();
      drain(self);
    }
  }

  void set_size(size_t threads) {
    threads_ = threads;
    ranges_.reset(new Range[threads]);
  }

  void start_workers() {
    for (size_t i = workers_.size() + 1; i < threads_; i++) workers_.emplace_back([this, i] { work(i); });
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true);
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
    stop_.store(false);
  }

  std::mutex call_mutex_;  // serialises parallel_for and resize
  std::mutex mutex_;       // guards sleeping on wake_ and done_
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  size_t threads_;  // the calling thread (index 0) included; workers start on the first parallel call
  std::unique_ptr<Range[]> ranges_;  // per thread
  const std::function<void(size_t)>* task_ = nullptr;
  std::atomic<size_t> size_{0};
  std::atomic<uint64_t> generation_{0};  // calls so far: a change wakes the workers
  alignas(128) std::atomic<size_t> finished_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
};

std::atomic<ThreadPool*> the_pool{nullptr};

// In a forked child only the forking thread exists: the parent's workers are gone and its
// locks may be held forever. The child gets a new pool of the same size (workers start on
// first use); the old one is abandoned as it is, since nothing of it can be safely undone.
void renew_pool_in_child() {
  ThreadPool* old = the_pool.load();
  the_pool.store(new ThreadPool(old->size_unlocked()));
}

// Never destroyed: joining threads during interpreter shutdown is not safe.
ThreadPool& pool() {
  static const bool created = [] {
    const size_t cores = std::max(1u, std::thread::hardware_concurrency());
    the_pool.store(new ThreadPool(std::min(cores, kMaxThreads)));
    pthread_atfork(nullptr, nullptr, renew_pool_in_child);
    return true;
  }();
  (void)created;
  return *the_pool.load();
}

}  // namespace

void set_num_threads(size_t n) { pool().resize(n); }
size_t get_num_threads() { return pool().size(); }
void parallel_for(size_t n, const std::function<void(size_t)>& task) { pool().run(n, task); }

SerialScope::SerialScope() : outer_(inside_task) { inside_task = true; }
SerialScope::~SerialScope() { inside_task = outer_; }

}  // namespace pyprune
