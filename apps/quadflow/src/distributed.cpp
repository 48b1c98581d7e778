// `--distributed mpi`: the only translation unit of the app that includes MPI (QUADFLOW_HAS_MPI).
#include "quadflow_app/distributed.hpp"

#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "quadflow/core/error.hpp"

#ifdef QUADFLOW_HAS_MPI
#include <mpi.h>

#include "quadflow/distributed/mpi.hpp"
#endif

namespace quadflow::app {

bool mpi_world::available() {
#ifdef QUADFLOW_HAS_MPI
    return true;
#else
    return false;
#endif
}

namespace {
mpi_world* running_world = nullptr;
}

mpi_world& mpi_world::get() {
    static mpi_world world;
    // Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE, MPICH's and Slurm's PMI_SIZE; a lone process has neither.
    const bool launched = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr;
    if (running_world == nullptr && world.size() == 1 && !launched)
        std::fprintf(
            stderr,
            "quadflow: --distributed mpi runs 1 process here, not started by mpirun (mpirun -np N quadflow ... "
            "shares the work among N)\n");
    running_world = &world;
    return world;
}

void mpi_world::on_rank_0(const std::function<void()>& check) const {
    field::rank_status status;
    if (rank_ == 0) try {
            check();
        } catch (const error& e) {
            status.failed = 1;
            status.set_message(e.what());
        }
    std::vector<field::rank_status> all(static_cast<std::size_t>(size_));
    exchange_->all_gather(std::as_bytes(std::span<const field::rank_status>(&status, 1)),
                          std::as_writable_bytes(std::span<field::rank_status>(all)));
    if (all.front().failed) throw io_error(all.front().message_text());
}

int mpi_world::cores_per_rank() const { return cores_per_rank_; }

void mpi_world::require_same_inputs(const std::vector<std::pair<std::string, std::uint64_t>>& inputs) const {
    std::vector<std::uint64_t> mine;
    for (const auto& input : inputs) mine.push_back(input.second);
    std::vector<std::uint64_t> all(mine.size() * static_cast<std::size_t>(size_));
    exchange_->all_gather(std::as_bytes(std::span<const std::uint64_t>(mine)),
                          std::as_writable_bytes(std::span<std::uint64_t>(all)));
    for (std::size_t i = 0; i < inputs.size(); ++i)
        for (int k = 1; k < size_; ++k)
            if (all[static_cast<std::size_t>(k) * mine.size() + i] != all[i]) {
                failed_together_ = true;
                throw invalid_argument(inputs[i].first, "differs between ranks",
                                       "rank " + std::to_string(k) + " was started with another " + inputs[i].first +
                                           " than rank 0; every rank must run the same command on the same files");
            }
}

void mpi_world::abort_if_distributed(int code) {
#ifdef QUADFLOW_HAS_MPI
    if (running_world != nullptr && running_world->size() > 1 && !failed_together_) MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)code;
#endif
}

mpi_world::mpi_world() {
#ifdef QUADFLOW_HAS_MPI
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        int provided = 0;
        MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
        std::atexit([] {
            int finalized = 0;
            MPI_Finalized(&finalized);
            if (!finalized) MPI_Finalize();
        });
    }
    distributed::mpi_communicator comm(MPI_COMM_WORLD);
    rank_ = comm.rank();
    size_ = comm.size();
    // The ranks on this machine, and how many of them may run on this rank's cores: mpirun binding each rank to its
    // own cores gives disjoint masks (the share is the rank's own cores); unbound ranks share one mask and split it.
    MPI_Comm node = MPI_COMM_NULL;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local_size_);
    cpu_set_t mine;
    CPU_ZERO(&mine);
    if (sched_getaffinity(0, sizeof mine, &mine) != 0) CPU_SET(0, &mine);
    std::vector<cpu_set_t> masks(static_cast<std::size_t>(local_size_));
    MPI_Allgather(&mine, sizeof mine, MPI_BYTE, masks.data(), sizeof mine, MPI_BYTE, node);
    MPI_Comm_free(&node);
    int sharing = 0;
    for (cpu_set_t& other : masks) {
        cpu_set_t both;
        CPU_AND(&both, &mine, &other);
        sharing += CPU_COUNT(&both) > 0 ? 1 : 0;
    }
    cores_per_rank_ = std::max(1, CPU_COUNT(&mine) / std::max(1, sharing));
    exchange_ = distributed::make_exchange(comm);
#else
    throw invalid_argument("--distributed", "mpi",
                           "this quadflow was built without MPI (apt-get install libopenmpi-dev openmpi-bin, then "
                           "rebuild)");
#endif
}

}  // namespace quadflow::app
