// quadflow NCCL communicator: distributed::communicator over an ncclComm_t and a cudaStream_t that the caller owns,
// on device memory, for cuda::device_tiled_field (one GPU per rank).
//
// Every collective is enqueued on the communicator's stream and returns once it is done there (the concept's
// blocking semantics), so the field may use another stream. all_gather_v is a group of one ncclBroadcast per rank
// (NCCL has no all-gather of unequal parts); in place when `mine` is this rank's part of `all`.
// What NCCL promises here, and what it does not: collectives match in call order, so every rank must make the same
// field calls; a model that throws or returns NaN/Inf on one rank makes every rank throw the same quadflow error (the
// field's status word travels through ncclAllGather). A rank that dies leaves the others blocked inside NCCL (NCCL has
// no failure detection of its own): run the ranks under a launcher that kills the job when a process exits, such as
// Open MPI's mpirun, which the MPI tests check (tests/mpi). abort() calls ncclCommAbort and ends the process with a
// non-zero exit, which such a launcher turns into the end of every rank.
#pragma once

#if !__has_include(<nccl.h>) || !__has_include(<cuda_runtime.h>)
#error "quadflow/distributed/nccl.hpp needs the CUDA toolkit and NCCL (nccl.h), and linking CUDA::cudart and nccl"
#endif

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/distributed/communicator.hpp"

namespace quadflow::distributed {

/// Throws quadflow::error naming the NCCL call and NCCL's message unless `result` is ncclSuccess.
inline void check_nccl(ncclResult_t result, const char* call) {
    if (result == ncclSuccess) return;
    throw error(std::string(call) + " failed: " + ncclGetErrorString(result));
}

class nccl_communicator {
public:
    static constexpr memory_space memory = memory_space::device;

    /// `comm` and `stream` stay the caller's: they must outlive this object and every field using it. The current
    /// device must be the one `comm` was created on.
    nccl_communicator(ncclComm_t comm, cudaStream_t stream) : comm_(comm), stream_(stream) {
        require(comm != nullptr, "comm", "null", "must be an initialized ncclComm_t (ncclCommInitRank)");
        check_nccl(ncclCommUserRank(comm_, &rank_), "ncclCommUserRank");
        check_nccl(ncclCommCount(comm_, &size_), "ncclCommCount");
    }
    int rank() const { return rank_; }
    int size() const { return size_; }
    ncclComm_t handle() const { return comm_; }
    cudaStream_t stream() const { return stream_; }

    /// Device memory: every rank gives mine.size() bytes; `all` receives them in rank order.
    void all_gather(std::span<const std::byte> mine, std::span<std::byte> all) {
        require(all.size() == mine.size() * static_cast<std::size_t>(size_), "all.size()", all.size(),
                "must be size() * mine.size() = " + std::to_string(mine.size() * static_cast<std::size_t>(size_)));
        if (mine.empty()) return;
        check_nccl(ncclAllGather(mine.data(), all.data(), mine.size(), ncclUint8, comm_, stream_), "ncclAllGather");
        synchronize();
    }

    /// Device memory: rank r gives counts[r] floats; `all` receives them concatenated in rank order.
    void all_gather_v(std::span<const float> mine, std::span<float> all, std::span<const std::int64_t> counts) {
        require(counts.size() == static_cast<std::size_t>(size_), "counts.size()", counts.size(),
                "must be size() = " + std::to_string(size_));
        std::int64_t total = 0;
        for (std::size_t r = 0; r < counts.size(); ++r) {
            require(counts[r] >= 0, "counts[" + std::to_string(r) + "]", counts[r], "must be >= 0");
            total += counts[r];
        }
        require(counts[static_cast<std::size_t>(rank_)] == static_cast<std::int64_t>(mine.size()), "counts[rank()]",
                counts[static_cast<std::size_t>(rank_)], "must be mine.size() = " + std::to_string(mine.size()));
        require(static_cast<std::int64_t>(all.size()) == total, "all.size()", all.size(),
                "must be the sum of counts = " + std::to_string(total));
        check_nccl(ncclGroupStart(), "ncclGroupStart");
        std::int64_t at = 0;
        for (int r = 0; r < size_; ++r) {
            const auto count = static_cast<std::size_t>(counts[static_cast<std::size_t>(r)]);
            float* part = all.data() + at;
            if (count > 0) {
                const ncclResult_t result =
                    ncclBroadcast(r == rank_ ? mine.data() : part, part, count, ncclFloat, r, comm_, stream_);
                if (result != ncclSuccess) {
                    ncclGroupEnd();
                    check_nccl(result, "ncclBroadcast");
                }
            }
            at += counts[static_cast<std::size_t>(r)];
        }
        check_nccl(ncclGroupEnd(), "ncclGroupEnd");
        synchronize();
    }

    /// Device memory: root's bytes reach every rank.
    void broadcast(std::span<std::byte> bytes, int root) {
        require(root >= 0 && root < size_, "root", root, "must be in [0, size() = " + std::to_string(size_) + ")");
        if (bytes.empty()) return;
        check_nccl(ncclBroadcast(bytes.data(), bytes.data(), bytes.size(), ncclUint8, root, comm_, stream_),
                   "ncclBroadcast");
        synchronize();
    }

    [[noreturn]] void abort(int code) const noexcept {
        ncclCommAbort(comm_);
        std::_Exit(code == 0 ? 1 : code);
    }

private:
    void synchronize() const {
        const cudaError_t status = cudaStreamSynchronize(stream_);
        if (status != cudaSuccess)
            throw error(std::string("cudaStreamSynchronize after an NCCL collective failed: ") +
                        cudaGetErrorString(status));
    }

    ncclComm_t comm_;
    cudaStream_t stream_;
    int rank_ = 0, size_ = 1;
};
static_assert(communicator<nccl_communicator>);

}  // namespace quadflow::distributed
