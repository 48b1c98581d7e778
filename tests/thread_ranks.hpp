// Test double for distributed::communicator: N threads of one process act as N ranks, so the distributed field's
// plans, exchanges and failures are tested without MPI (and under the sanitizers).
#pragma once

#include <barrier>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "quadflow/distributed/communicator.hpp"

namespace fixtures {

/// What the ranks of one group share: a barrier and one staging slot per rank.
struct thread_group {
    explicit thread_group(int ranks)
        : size(ranks), barrier(ranks), bytes(static_cast<std::size_t>(ranks)), floats(static_cast<std::size_t>(ranks)) {
    }
    int size;
    std::barrier<> barrier;
    std::vector<std::vector<std::byte>> bytes;
    std::vector<std::vector<float>> floats;
};

/// Rank `rank` of a thread_group; models distributed::communicator.
class thread_rank {
public:
    thread_rank(std::shared_ptr<thread_group> group, int rank) : group_(std::move(group)), rank_(rank) {}
    int rank() const { return rank_; }
    int size() const { return group_->size; }
    void all_gather(std::span<const std::byte> mine, std::span<std::byte> all) {
        group_->bytes[static_cast<std::size_t>(rank_)].assign(mine.begin(), mine.end());
        group_->barrier.arrive_and_wait();
        for (int r = 0; r < size(); ++r) {
            const auto& part = group_->bytes[static_cast<std::size_t>(r)];
            std::copy(part.begin(), part.end(), all.begin() + static_cast<std::ptrdiff_t>(r * mine.size()));
        }
        group_->barrier.arrive_and_wait();
    }
    void all_gather_v(std::span<const float> mine, std::span<float> all, std::span<const std::int64_t> counts) {
        group_->floats[static_cast<std::size_t>(rank_)].assign(mine.begin(), mine.end());
        group_->barrier.arrive_and_wait();
        std::ptrdiff_t at = 0;
        for (int r = 0; r < size(); ++r) {
            const auto& part = group_->floats[static_cast<std::size_t>(r)];
            if (static_cast<std::int64_t>(part.size()) != counts[static_cast<std::size_t>(r)]) std::abort();
            std::copy(part.begin(), part.end(), all.begin() + at);
            at += static_cast<std::ptrdiff_t>(part.size());
        }
        group_->barrier.arrive_and_wait();
    }
    void broadcast(std::span<std::byte> bytes, int root) {
        if (rank_ == root) group_->bytes[static_cast<std::size_t>(root)].assign(bytes.begin(), bytes.end());
        group_->barrier.arrive_and_wait();
        const auto& part = group_->bytes[static_cast<std::size_t>(root)];
        std::copy(part.begin(), part.end(), bytes.begin());
        group_->barrier.arrive_and_wait();
    }
    void abort(int code) const noexcept { std::_Exit(code == 0 ? 1 : code); }

private:
    std::shared_ptr<thread_group> group_;
    int rank_;
};
static_assert(quadflow::distributed::communicator<thread_rank>);

/// Runs body(rank, communicator) on `ranks` threads, one per rank, and waits for all of them.
inline void run_ranks(int ranks, const std::function<void(int, thread_rank)>& body) {
    auto group = std::make_shared<thread_group>(ranks);
    std::vector<std::thread> threads;
    for (int r = 0; r < ranks; ++r) threads.emplace_back([&, r] { body(r, thread_rank(group, r)); });
    for (std::thread& t : threads) t.join();
}

}  // namespace fixtures
