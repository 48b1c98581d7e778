// quadflow distributed communicator: the concept a transport (MPI, NCCL, a test double) models to split one image's
// model batches across processes, its minimal model (one process), and the adapter to field::batch_exchange.
//
// Requirements of a communicator C, for c a C& (every rank calls the collectives in the same order, with the same
// sizes; a collective returns on a rank once that rank's part is done):
//   c.rank() -> int                   this process's rank, in [0, c.size())
//   c.size() -> int                   the number of ranks, >= 1
//   c.all_gather(mine, all)           std::span<const std::byte> mine, std::span<std::byte> all: every rank gives
//                                     mine.size() bytes (the same on every rank); all (size() times as many)
//                                     receives them in rank order
//   c.all_gather_v(mine, all, counts) std::span<const float> mine, std::span<float> all,
//                                     std::span<const std::int64_t> counts: rank r gives counts[r] floats; all
//                                     receives them concatenated in rank order
//   c.broadcast(bytes, root)          std::span<std::byte> bytes, int root: root's bytes reach every rank
//   c.abort(code) noexcept            ends every rank with a non-zero exit (MPI_Abort); for a failure a rank cannot
//                                     report through a collective
//   C::memory (optional)              a constexpr memory_space: where the spans' memory lives; host when absent
//                                     (distributed/nccl.hpp: device)
// In both all-gathers `mine` may be this rank's part of `all` (in place), which is how the fields call them.
// Failures inside a collective throw quadflow::error on the rank that sees them. A rank that dies is the
// transport's to detect (distributed/mpi.hpp says what MPI and mpirun promise).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/field/batch_exchange.hpp"

namespace quadflow::distributed {

template <class C>
concept communicator = requires(C& c, const C& cc, std::span<const std::byte> bytes_in, std::span<std::byte> bytes_out,
                                std::span<const float> floats_in, std::span<float> floats_out,
                                std::span<const std::int64_t> counts, int root, int code) {
    { cc.rank() } -> std::convertible_to<int>;
    { cc.size() } -> std::convertible_to<int>;
    c.all_gather(bytes_in, bytes_out);
    c.all_gather_v(floats_in, floats_out, counts);
    c.broadcast(bytes_out, root);
    { c.abort(code) }
    noexcept;
};

/// The minimal communicator: one process, rank 0 of 1. Collectives copy `mine` into `all`.
class single_process {
public:
    int rank() const { return 0; }
    int size() const { return 1; }
    void all_gather(std::span<const std::byte> mine, std::span<std::byte> all) const {
        require(all.size() == mine.size(), "all.size()", all.size(),
                "must be size() * mine.size() = " + std::to_string(mine.size()));
        if (all.data() != mine.data()) std::copy(mine.begin(), mine.end(), all.begin());
    }
    void all_gather_v(std::span<const float> mine, std::span<float> all, std::span<const std::int64_t> counts) const {
        require(counts.size() == 1, "counts.size()", counts.size(), "must be size() = 1");
        require(counts[0] == static_cast<std::int64_t>(mine.size()), "counts[0]", counts[0],
                "must be mine.size() = " + std::to_string(mine.size()));
        require(all.size() == mine.size(), "all.size()", all.size(),
                "must be the sum of counts = " + std::to_string(mine.size()));
        if (all.data() != mine.data()) std::copy(mine.begin(), mine.end(), all.begin());
    }
    void broadcast(std::span<std::byte>, int root) const {
        require(root == 0, "root", root, "must be in [0, size() = 1)");
    }
    [[noreturn]] void abort(int code) const noexcept { std::_Exit(code == 0 ? 1 : code); }
};
static_assert(communicator<single_process>);

/// Where communicator C's buffers live: C::memory, or host.
template <class C>
constexpr memory_space memory_of() {
    if constexpr (requires { C::memory; })
        return C::memory;
    else
        return memory_space::host;
}

/// A field::batch_exchange over a communicator (held by value: an MPI or NCCL handle, or a reference wrapper).
template <communicator C>
class exchange_over final : public field::batch_exchange {
public:
    explicit exchange_over(C comm) : comm_(std::move(comm)) {
        require(comm_.size() >= 1, "communicator size", comm_.size(), "must be >= 1");
        require(comm_.rank() >= 0 && comm_.rank() < comm_.size(), "communicator rank", comm_.rank(),
                "must be in [0, size() = " + std::to_string(comm_.size()) + ")");
    }
    int rank() const override { return comm_.rank(); }
    int size() const override { return comm_.size(); }
    memory_space memory() const override { return memory_of<C>(); }
    void all_gather(std::span<const std::byte> mine, std::span<std::byte> all) override { comm_.all_gather(mine, all); }
    void all_gather_v(std::span<const float> mine, std::span<float> all,
                      std::span<const std::int64_t> counts) override {
        comm_.all_gather_v(mine, all, counts);
    }
    C& comm() { return comm_; }

private:
    C comm_;
};

/// The field_options::exchange for `comm`: every rank of a distributed field sets it.
template <communicator C>
std::shared_ptr<field::batch_exchange> make_exchange(C comm) {
    return std::make_shared<exchange_over<C>>(std::move(comm));
}

}  // namespace quadflow::distributed
