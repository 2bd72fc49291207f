// Fork-join pool: workers sleep on a condition variable between parallel_for calls and take
// indices from a shared counter, so uneven tasks balance themselves.
#include "pyprune/threadpool.h"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace pyprune {
namespace {

thread_local bool inside_task = false;

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
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      size_ = n;
      next_.store(0);
      busy_ = workers_.size();
      generation_++;
    }
    wake_.notify_all();
    drain();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_ == 0; });
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

  // Runs indices until none are left; the first exception stops the others and is rethrown
  // on the calling thread.
  void drain() {
    inside_task = true;
    for (size_t i = next_.fetch_add(1); i < size_; i = next_.fetch_add(1)) {
      try {
        (*task_)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        next_.store(size_);
      }
    }
    inside_task = false;
  }

  void work() {
    size_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      drain();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_ == 0) done_.notify_one();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
    stop_ = false;
  }

  std::mutex call_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(size_t)>* task_ = nullptr;
  size_t size_ = 0;
  std::atomic<size_t> next_{0};
  size_t busy_ = 0;
  size_t generation_ = 0;
  bool stop_ = false;
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
