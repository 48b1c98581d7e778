// Tests of quadflow::thread_pool: every task runs once per run, for back-to-back runs (workers polling) and
// runs after the workers went to sleep; exceptions reach the caller; bad arguments get clear errors.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "quadflow/core/thread_pool.hpp"

using namespace quadflow;
using std::chrono::microseconds;

namespace {

/// Runs `runs` back-to-back runs of varying size and checks that each run executed every index exactly once.
void check_every_task_once(thread_pool& pool, int runs, microseconds pause_between = microseconds{0}) {
    std::vector<std::atomic<int>> hits(97);
    for (int r = 0; r < runs; ++r) {
        const std::int64_t count = 1 + (r * 37) % 97;
        for (auto& h : hits) h.store(0);
        auto task = [&](std::int64_t i) { hits[static_cast<std::size_t>(i)].fetch_add(1); };
        pool.run(count, task);
        int wrong = 0;
        for (std::int64_t i = 0; i < 97; ++i) wrong += hits[static_cast<std::size_t>(i)].load() != (i < count ? 1 : 0);
        REQUIRE(wrong == 0);
        if (pause_between.count() > 0) std::this_thread::sleep_for(pause_between);
    }
}

}  // namespace

TEST_CASE("thread_pool runs every task exactly once, back to back and after its workers slept") {
    for (int threads : {1, 2, 3, 5}) {
        CAPTURE(threads);
        thread_pool polling(threads);  // default spin: the next run finds the workers polling
        check_every_task_once(polling, 2000);
        thread_pool sleeping(threads, microseconds{0});  // no spin: every run wakes sleeping workers
        check_every_task_once(sleeping, 500);
        // Pauses longer than the spin: the workers stop polling and sleep between runs.
        thread_pool short_spin(threads, microseconds{50});
        check_every_task_once(short_spin, 20, microseconds{2000});
    }
}

TEST_CASE("thread_pool shares the tasks of a long run between its threads") {
    // Each task waits until two different threads have started tasks (or a deadline passes), so a pool that
    // ran everything on the caller would end with one thread seen.
    thread_pool pool(2);
    std::atomic<int> distinct{0};
    std::atomic<std::thread::id> first{};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    auto task = [&](std::int64_t) {
        const auto me = std::this_thread::get_id();
        std::thread::id none{};
        if (first.compare_exchange_strong(none, me))
            distinct.store(1);
        else if (first.load() != me)
            distinct.store(2);
        while (distinct.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    };
    pool.run(8, task);
    CHECK(distinct.load() == 2);
}

TEST_CASE("thread_pool rethrows a task's exception and stays usable") {
    for (microseconds spin : {microseconds{0}, thread_pool::default_spin}) {
        thread_pool pool(2, spin);
        std::atomic<int> ran{0};
        auto failing = [&](std::int64_t i) {
            ran.fetch_add(1);
            if (i == 5) throw std::runtime_error("task 5 failed");
        };
        CHECK_THROWS_WITH_AS(pool.run(16, failing), "task 5 failed", std::runtime_error);
        CHECK(ran.load() == 16);  // the other tasks still ran
        check_every_task_once(pool, 50);
    }
}

TEST_CASE("thread_pool polls only when it has no more threads than the machine") {
    const auto cores = static_cast<int>(std::thread::hardware_concurrency());
    if (cores == 0) return;  // unknown: nothing to compare with
    CHECK(thread_pool(1).spin() == thread_pool::default_spin);
    CHECK(thread_pool(cores).spin() == thread_pool::default_spin);
    CHECK(thread_pool(cores, microseconds{7}).spin() == microseconds{7});
    CHECK(thread_pool(cores + 1).spin() == microseconds{0});
}

TEST_CASE("thread_pool: bad thread count or spin") {
    CHECK_THROWS_WITH_AS(thread_pool(0), doctest::Contains("threads = 0: must be >= 1"), invalid_argument);
    CHECK_THROWS_WITH_AS(thread_pool(2, microseconds{-5}), doctest::Contains("spin = -5: must be >= 0 microseconds"),
                         invalid_argument);
}
