// quadflow batch exchange: what a tiled field needs to split its model batches across processes, and the static
// plan that assigns each evaluation's batches to ranks.
//
// A field given a batch_exchange (field_options::exchange) plans the same batches on every rank, calls its own model
// only for the batches assign_to_ranks gives its rank, and exchanges the model outputs (not partial blends), so that
// every rank blends every tile in the same rank order: the canvas, and so the sampler's state, is bit-identical to
// the single-process field's on every rank, for any number of ranks. quadflow/distributed adapts communicators
// (MPI, NCCL, or any type modelling distributed::communicator) to this interface.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"

namespace quadflow::field {

/// The collective operations a distributed field calls, every rank in the same order with the same sizes.
class batch_exchange {
public:
    virtual ~batch_exchange() = default;
    virtual int rank() const = 0;  ///< in [0, size())
    virtual int size() const = 0;  ///< >= 1
    /// Where the buffers of the collectives live: host memory (field::tiled_field; MPI), or device memory
    /// (cuda::device_tiled_field; NCCL). The spans then hold device pointers.
    virtual memory_space memory() const { return memory_space::host; }
    /// Every rank contributes `mine` (the same size on every rank); `all` (size() * mine.size() bytes) receives the
    /// contributions in rank order. `mine` may be this rank's part of `all` (in place).
    virtual void all_gather(std::span<const std::byte> mine, std::span<std::byte> all) = 0;
    /// Rank r contributes counts[r] floats (`mine`, counts[rank()] of them); `all` (the sum of counts) receives the
    /// contributions concatenated in rank order. Every rank passes the same counts. `mine` may be this rank's part
    /// of `all` (in place: all.data() + counts[0] + ... + counts[rank() - 1]), as the fields pass it.
    virtual void all_gather_v(std::span<const float> mine, std::span<float> all,
                              std::span<const std::int64_t> counts) = 0;
};

/// Longest processing time first over reused buffers: items by cost, largest first (equal costs by index), each to
/// the rank with the least cost so far (the lowest rank on ties). A pure function of its inputs, so every rank
/// computes the same plan; its largest rank cost is at most 4/3 of the optimum (Graham 1969). Allocates only when
/// a call has more items or ranks than any before.
class rank_assignment {
public:
    /// Returns the rank of each item. Throws invalid_argument for ranks < 1 or a negative cost.
    std::span<const int> assign(std::span<const std::int64_t> costs, int ranks) {
        require(ranks >= 1, "ranks", ranks, "must be >= 1");
        for (std::size_t i = 0; i < costs.size(); ++i)
            require(costs[i] >= 0, "costs[" + std::to_string(i) + "]", costs[i], "must be >= 0");
        order_.resize(costs.size());
        std::iota(order_.begin(), order_.end(), std::size_t{0});
        std::stable_sort(order_.begin(), order_.end(),
                         [&](std::size_t a, std::size_t b) { return costs[a] > costs[b]; });
        load_.assign(static_cast<std::size_t>(ranks), 0);
        owner_.assign(costs.size(), 0);
        for (const std::size_t item : order_) {
            const auto least = static_cast<std::size_t>(std::min_element(load_.begin(), load_.end()) - load_.begin());
            owner_[item] = static_cast<int>(least);
            load_[least] += costs[item];
        }
        return owner_;
    }

private:
    std::vector<std::size_t> order_;
    std::vector<std::int64_t> load_;
    std::vector<int> owner_;
};

/// rank_assignment's plan as a new vector: the rank of each item (tests, simulations).
inline std::vector<int> assign_to_ranks(std::span<const std::int64_t> costs, int ranks) {
    rank_assignment assignment;
    const std::span<const int> owner = assignment.assign(costs, ranks);
    return {owner.begin(), owner.end()};
}

/// What one rank tells the others after calling its models for a chunk: whether one failed, and its message
/// (truncated to fit). Trivially copyable: it travels as bytes.
struct rank_status {
    std::int32_t failed = 0;
    char message[508] = {};

    void set_message(std::string_view text) {
        const std::size_t n = std::min(text.size(), sizeof message - 1);
        std::copy_n(text.data(), n, message);
        message[n] = '\0';
    }
    std::string message_text() const {
        return std::string(message, std::find(message, message + sizeof message, '\0'));
    }
};

}  // namespace quadflow::field
