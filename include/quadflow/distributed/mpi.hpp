// quadflow MPI communicator: distributed::communicator over an MPI_Comm that the caller owns (quadflow never calls
// MPI_Init or MPI_Finalize).
//
// What MPI promises here, and what it does not: collectives match in call order on a communicator, so every rank
// must make the same field calls. A model that throws or returns NaN/Inf is reported through the field's status
// word, so every rank throws the same quadflow::model_error at that step and can end cleanly. A rank that dies
// (SIGKILL, a crash) is not something MPI-3 lets the others recover from: under Open MPI's mpirun the runtime
// notices the lost process and kills the job ("mpirun noticed that process rank 1 ... exited on signal 9"), so
// mpirun exits non-zero instead of hanging; the test suite checks this (tests/mpi). Other launchers should be
// configured to do the same.
#pragma once

#if !__has_include(<mpi.h>)
#error "quadflow/distributed/mpi.hpp needs MPI: apt-get install libopenmpi-dev, and link MPI::MPI_CXX (CMake's FindMPI)"
#endif

#include <mpi.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/distributed/communicator.hpp"

namespace quadflow::distributed {

/// Throws quadflow::error naming the MPI call and MPI's message unless `code` is MPI_SUCCESS. (MPI's default
/// error handler, MPI_ERRORS_ARE_FATAL, aborts first; this matters for a communicator set to MPI_ERRORS_RETURN.)
inline void check_mpi(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw error(std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

class mpi_communicator {
public:
    /// `comm` stays the caller's: it must outlive this object and every field using it.
    explicit mpi_communicator(MPI_Comm comm) : comm_(comm) {
        int initialized = 0;
        MPI_Initialized(&initialized);
        if (!initialized) throw error("mpi_communicator: MPI is not initialized (call MPI_Init first)");
        check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
        check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    }
    int rank() const { return rank_; }
    int size() const { return size_; }
    MPI_Comm handle() const { return comm_; }

    void all_gather(std::span<const std::byte> mine, std::span<std::byte> all) {
        require(mine.size() <= INT_MAX, "mine.size()", mine.size(), "must be <= INT_MAX bytes");
        require(all.size() == mine.size() * static_cast<std::size_t>(size_), "all.size()", all.size(),
                "must be size() * mine.size() = " + std::to_string(mine.size() * static_cast<std::size_t>(size_)));
        const bool in_place = mine.data() == all.data() + mine.size() * static_cast<std::size_t>(rank_);
        check_mpi(MPI_Allgather(in_place ? MPI_IN_PLACE : mine.data(), static_cast<int>(mine.size()), MPI_BYTE,
                                all.data(), static_cast<int>(mine.size()), MPI_BYTE, comm_),
                  "MPI_Allgather");
    }

    void all_gather_v(std::span<const float> mine, std::span<float> all, std::span<const std::int64_t> counts) {
        require(counts.size() == static_cast<std::size_t>(size_), "counts.size()", counts.size(),
                "must be size() = " + std::to_string(size_));
        counts_.resize(counts.size());
        displacements_.resize(counts.size());
        std::int64_t at = 0;
        for (std::size_t r = 0; r < counts.size(); ++r) {
            require(counts[r] >= 0 && counts[r] <= INT_MAX && at <= INT_MAX, "counts[" + std::to_string(r) + "]",
                    counts[r], "must be in [0, INT_MAX], and so must their running sum (MPI's int counts)");
            counts_[r] = static_cast<int>(counts[r]);
            displacements_[r] = static_cast<int>(at);
            at += counts[r];
        }
        require(counts[static_cast<std::size_t>(rank_)] == static_cast<std::int64_t>(mine.size()), "counts[rank()]",
                counts[static_cast<std::size_t>(rank_)], "must be mine.size() = " + std::to_string(mine.size()));
        require(static_cast<std::int64_t>(all.size()) == at, "all.size()", all.size(),
                "must be the sum of counts = " + std::to_string(at));
        const bool in_place = mine.data() == all.data() + displacements_[static_cast<std::size_t>(rank_)];
        check_mpi(MPI_Allgatherv(in_place ? MPI_IN_PLACE : mine.data(), static_cast<int>(mine.size()), MPI_FLOAT,
                                 all.data(), counts_.data(), displacements_.data(), MPI_FLOAT, comm_),
                  "MPI_Allgatherv");
    }

    void broadcast(std::span<std::byte> bytes, int root) {
        require(root >= 0 && root < size_, "root", root, "must be in [0, size() = " + std::to_string(size_) + ")");
        require(bytes.size() <= INT_MAX, "bytes.size()", bytes.size(), "must be <= INT_MAX");
        check_mpi(MPI_Bcast(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, root, comm_), "MPI_Bcast");
    }

    void abort(int code) const noexcept { MPI_Abort(comm_, code == 0 ? 1 : code); }

private:
    MPI_Comm comm_;
    int rank_ = 0, size_ = 1;
    std::vector<int> counts_, displacements_;
};
static_assert(communicator<mpi_communicator>);

}  // namespace quadflow::distributed
