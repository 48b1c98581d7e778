// quadflow thread pool: a fixed set of workers that run indexed tasks, allocation-free per run.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "quadflow/core/error.hpp"

namespace quadflow {

/// Runs `task(i)` for i in [0, count) on `threads` threads (the caller is one of them). Which thread
/// runs a task varies, so tasks must write disjoint memory; results are then independent of the
/// thread count. `run` allocates nothing; the first exception a task throws is rethrown by `run`.
/// Between runs the workers poll for `spin`, then sleep on a condition variable.
class thread_pool {
public:
    /// How long a thread that ran out of tasks keeps polling for the next run (or, for the caller, for the
    /// workers to finish) before it blocks. A blocked thread takes tens of microseconds to wake on a virtual
    /// machine, longer than many runs last, so a field evaluation's back-to-back runs find the workers awake.
    /// Like OpenMP's spin-then-block wait policy (GOMP_SPINCOUNT), bounded so that idle workers sleep, and,
    /// as libgomp does, off when the pool has more threads than the machine: a polling thread would then
    /// take a core from one with work.
    static constexpr std::chrono::microseconds default_spin{200};

    explicit thread_pool(int threads = 1, std::chrono::microseconds spin = default_spin) : spin_(spin) {
        require(threads >= 1, "threads", threads, "must be >= 1");
        require(spin.count() >= 0, "spin", static_cast<std::int64_t>(spin.count()), "must be >= 0 microseconds");
        const unsigned cores = std::thread::hardware_concurrency();
        if (cores != 0 && static_cast<unsigned>(threads) > cores) spin_ = std::chrono::microseconds{0};
        workers_.reserve(static_cast<std::size_t>(threads - 1));
        for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
    }
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;
    ~thread_pool() {
        {
            std::lock_guard lock(mutex_);
            stopping_.store(true, std::memory_order_release);
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        for (auto& w : workers_) w.join();
    }

    int threads() const { return static_cast<int>(workers_.size()) + 1; }
    /// The polling time in use: the constructor's `spin`, or 0 with more threads than hardware threads.
    std::chrono::microseconds spin() const { return spin_; }

    template <class Task>
    void run(std::int64_t count, Task& task) {
        if (count <= 0) return;
        if (workers_.empty() || count == 1) {
            for (std::int64_t i = 0; i < count; ++i) task(i);
            return;
        }
        {
            std::lock_guard lock(mutex_);
            context_ = &task;
            invoke_ = [](void* context, std::int64_t i) { (*static_cast<Task*>(context))(i); };
            count_ = count;
            next_.store(0, std::memory_order_relaxed);
            busy_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
            failure_ = nullptr;
            generation_.fetch_add(1, std::memory_order_release);  // publishes the fields above to spinning workers
        }
        wake_.notify_all();
        drain();
        if (!spin_until([this] { return busy_.load(std::memory_order_acquire) == 0; })) {
            std::unique_lock lock(mutex_);
            done_.wait(lock, [this] { return busy_.load(std::memory_order_acquire) == 0; });
        }
        if (failure_) std::rethrow_exception(failure_);
    }

private:
    /// Polls `ready` for up to spin_; true once it holds.
    template <class Ready>
    bool spin_until(const Ready& ready) const {
        if (ready()) return true;
        if (spin_.count() == 0) return false;
        const auto deadline = std::chrono::steady_clock::now() + spin_;
        for (;;) {
            for (int i = 0; i < 64; ++i) {
                pause();
                if (ready()) return true;
            }
            if (std::chrono::steady_clock::now() >= deadline) return false;
        }
    }

    static void pause() {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        asm volatile("yield");
#endif
    }

    void drain() {
        for (std::int64_t i = next_.fetch_add(1); i < count_; i = next_.fetch_add(1)) {
            try {
                invoke_(context_, i);
            } catch (...) {
                std::lock_guard lock(mutex_);
                if (!failure_) failure_ = std::current_exception();
            }
        }
    }

    void work() {
        std::uint64_t seen = 0;
        for (;;) {
            if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; })) {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
            }
            seen = generation_.load(std::memory_order_acquire);
            if (stopping_.load(std::memory_order_acquire)) return;
            drain();
            if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                { std::lock_guard lock(mutex_); }  // a caller between its check and its wait cannot miss this
                done_.notify_one();
            }
        }
    }

    std::vector<std::thread> workers_;
    std::chrono::microseconds spin_;
    std::mutex mutex_;
    std::condition_variable wake_, done_;
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<bool> stopping_{false};
    void* context_ = nullptr;
    void (*invoke_)(void*, std::int64_t) = nullptr;
    std::int64_t count_ = 0;
    std::atomic<std::int64_t> next_{0};
    std::atomic<int> busy_{0};
    std::exception_ptr failure_;
};

}  // namespace quadflow
