// quadflow app distributed: `--distributed mpi` behind an MPI-free interface (MPI stays in one TU,
// src/distributed.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "quadflow/field/batch_exchange.hpp"

namespace quadflow::app {

/// MPI_COMM_WORLD of this process. MPI is initialised on first use (unless the host program did it) and finalised
/// when the process exits, so any number of commands can share it.
class mpi_world {
public:
    /// Whether this build has MPI (CMake found it).
    static bool available();
    /// The process's world; throws invalid_argument naming --distributed when the build has no MPI.
    static mpi_world& get();

    int rank() const { return rank_; }
    int size() const { return size_; }
    /// Ranks of the world on this machine (MPI_COMM_TYPE_SHARED), which share its cores.
    int local_size() const { return local_size_; }
    /// The cores this rank may run on (sched_getaffinity) divided among the ranks of this machine that may run on
    /// them too, at least 1: each rank's LibTorch threads, so that ranks on one machine never oversubscribe it.
    int cores_per_rank() const;
    /// A field::batch_exchange over MPI_COMM_WORLD (distributed::mpi_communicator).
    std::shared_ptr<field::batch_exchange> exchange() const { return exchange_; }

    /// Runs `check` on rank 0 (files it alone writes) and makes its outcome every rank's: when it throws
    /// quadflow::error, every rank throws io_error with its message, so no rank goes on to wait for rank 0.
    void on_rank_0(const std::function<void()>& check) const;

    /// Throws invalid_argument, on every rank alike, naming the first of `inputs` (name, digest; the same names in the
    /// same order on every rank) whose digest differs from rank 0's: ranks started with other flags, another image or
    /// another model file would blend tiles of different runs into one wrong picture. Every rank fails together, so
    /// the error ends each normally (exit 2), without MPI_Abort.
    void require_same_inputs(const std::vector<std::pair<std::string, std::uint64_t>>& inputs) const;

    /// Ends every rank with `code` (MPI_Abort) when this process runs a distributed command on more than one rank:
    /// after an error, the others may be waiting in an exchange that will never come, and MPI_Finalize would wait
    /// with them. Does nothing otherwise.
    static void abort_if_distributed(int code);

private:
    mpi_world();
    int rank_ = 0, size_ = 1, local_size_ = 1, cores_per_rank_ = 1;
    static inline bool failed_together_ = false;  ///< every rank threw the same error: no MPI_Abort needed
    std::shared_ptr<field::batch_exchange> exchange_;
};

}  // namespace quadflow::app
