// quadflow thread pool: a fixed set of workers that run indexed tasks, allocation-free per run.
#pragma once

#include <atomic>
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
class thread_pool {
public:
    explicit thread_pool(int threads = 1) {
        require(threads >= 1, "threads", threads, "must be >= 1");
        workers_.reserve(static_cast<std::size_t>(threads - 1));
        for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
    }
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;
    ~thread_pool() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            ++generation_;
        }
        wake_.notify_all();
        for (auto& w : workers_) w.join();
    }

    int threads() const { return static_cast<int>(workers_.size()) + 1; }

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
            next_.store(0);
            busy_ = static_cast<int>(workers_.size());
            failure_ = nullptr;
            ++generation_;
        }
        wake_.notify_all();
        drain();
        std::unique_lock lock(mutex_);
        done_.wait(lock, [this] { return busy_ == 0; });
        if (failure_) std::rethrow_exception(failure_);
    }

private:
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
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [&] { return generation_ != seen; });
                seen = generation_;
                if (stopping_) return;
            }
            drain();
            {
                std::lock_guard lock(mutex_);
                --busy_;
            }
            done_.notify_one();
        }
    }

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_, done_;
    std::uint64_t generation_ = 0;
    bool stopping_ = false;
    void* context_ = nullptr;
    void (*invoke_)(void*, std::int64_t) = nullptr;
    std::int64_t count_ = 0;
    std::atomic<std::int64_t> next_{0};
    int busy_ = 0;
    std::exception_ptr failure_;
};

}  // namespace quadflow
