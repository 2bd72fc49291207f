// Fork-join pool: workers take indices from a shared counter, so uneven tasks balance
// themselves. Between calls a worker spins briefly before it sleeps: layers of a network come
// back to back and last tens of microseconds, less than waking a sleeping thread takes.
#include "pyprune/threadpool.h"

#include "pyprune/common.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
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
  ThreadPool() { resize(std::max(1u, std::thread::hardware_concurrency())); }

  void resize(size_t threads) {
    std::lock_guard<std::mutex> call(call_mutex_);
    stop_workers();
    for (size_t i = 1; i < threads; i++) workers_.emplace_back([this] { work(); });
  }

  size_t size() {
    std::lock_guard<std::mutex> call(call_mutex_);
    return workers_.size() + 1;
  }

  void run(size_t n, const std::function<void(size_t)>& task) {
    if (n == 0) return;
    // A task that calls parallel_for again runs its inner loop on its own thread.
    if (inside_task) return run_inline(n, task);
    std::lock_guard<std::mutex> call(call_mutex_);  // one parallel_for at a time
    if (workers_.empty() || n == 1) return run_inline(n, task);
    PP_ASSERT(n < kClosed);
    // Close the previous call before changing what a call is: a worker still leaving it must
    // not take an index of the new one (its claim fails once the word has changed).
    const uint32_t generation = static_cast<uint32_t>(work_.load() >> 32) + 1;
    work_.store(word(generation, kClosed));
    task_ = &task;
    size_.store(n);
    finished_.store(0);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      work_.store(word(generation, 0));  // publishes task_ and size_
    }
    wake_.notify_all();
    drain(generation);
    // Only tasks are waited for, never idle workers: a worker that wakes late finds the call
    // over and claims nothing.
    auto all_done = [this] { return finished_.load() == size_.load(); };
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

  static constexpr uint64_t kClosed = 0xffffffffu;  // index of a call being set up
  static uint64_t word(uint32_t generation, uint64_t index) {
    return static_cast<uint64_t>(generation) << 32 | index;
  }

  // Takes the next index of call `generation`, if that call still has one.
  bool claim(uint32_t generation, size_t* index) {
    uint64_t w = work_.load();
    for (;;) {
      if (static_cast<uint32_t>(w >> 32) != generation || (w & kClosed) >= size_.load()) return false;
      if (work_.compare_exchange_weak(w, w + 1)) {
        *index = static_cast<size_t>(w & 0xffffffffu);
        return true;
      }
    }
  }

  // Runs indices of call `generation` until none are left. The first exception is kept and
  // rethrown on the calling thread; the remaining tasks still run.
  void drain(uint32_t generation) {
    inside_task = true;
    size_t i;
    while (claim(generation, &i)) {
      try {
        (*task_)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      if (finished_.fetch_add(1) + 1 == size_.load()) {
        std::lock_guard<std::mutex> lock(mutex_);  // the caller may be about to sleep
        done_.notify_one();
      }
    }
    inside_task = false;
  }

  void work() {
    uint32_t seen = static_cast<uint32_t>(work_.load() >> 32);
    for (;;) {
      uint64_t w = 0;
      auto called = [&] {
        w = work_.load();
        return stop_.load() || (static_cast<uint32_t>(w >> 32) != seen && (w & kClosed) != kClosed);
      };
      if (!spin_until(called)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, called);
      }
      if (stop_.load()) return;
      seen = static_cast<uint32_t>(w >> 32);
      drain(seen);
    }
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
  const std::function<void(size_t)>* task_ = nullptr;
  std::atomic<size_t> size_{0};
  std::atomic<uint64_t> work_{0};  // call generation << 32 | next index to claim
  std::atomic<size_t> finished_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
};

// Never destroyed: joining threads during interpreter shutdown is not safe.
ThreadPool& pool() {
  static ThreadPool* p = new ThreadPool();
  return *p;
}

}  // namespace

void set_num_threads(size_t n) { pool().resize(n == 0 ? 1 : n); }
size_t get_num_threads() { return pool().size(); }
void parallel_for(size_t n, const std::function<void(size_t)>& task) { pool().run(n, task); }

}  // namespace pyprune
