// The distributed device field over NCCL, one GPU per MPI rank: every rank's canvas equals one device field's bit for
// bit, and the ranks split the model work exactly. ctest runs it on one rank (a single-rank NCCL communicator); on a
// machine with G GPUs run `mpirun -np G build/tests/mpi/test_nccl_field` (docs/distributed.md). Exits 77 (Skipped)
// without a GPU, and 1 with a message when a check fails.
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cuda/cuda_fixtures.cuh"
#include "quadflow/distributed/communicator.hpp"
#include "quadflow/distributed/nccl.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/schedule/flux.hpp"

using namespace quadflow;
using namespace cuda_fixtures;

namespace {

/// The canvas's bytes folded into 64 bits (FNV-1a), to compare canvases across ranks.
std::uint64_t bytes_hash(const host_tensor& x) {
    std::uint64_t hash = 14695981039346656037ull;
    const auto* bytes = reinterpret_cast<const unsigned char*>(x.data());
    for (std::int64_t i = 0; i < x.numel() * std::int64_t{sizeof(float)}; ++i)
        hash = (hash ^ bytes[static_cast<std::size_t>(i)]) * 1099511628211ull;
    return hash;
}

int failures = 0;
void check(bool ok, int rank, const std::string& what) {
    if (ok) return;
    ++failures;
    std::fprintf(stderr, "rank %d: FAILED: %s\n", rank, what.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, ranks = 1, devices = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    const bool has_gpu = cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
    int all_have_gpu = has_gpu ? 1 : 0;
    MPI_Allreduce(MPI_IN_PLACE, &all_have_gpu, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all_have_gpu) {
        if (rank == 0) std::printf("no CUDA device: skipped\n");
        MPI_Finalize();
        return 77;
    }
    try {
        QUADFLOW_CUDA_CHECK(cudaSetDevice(rank % devices));
        ncclUniqueId id;
        if (rank == 0) distributed::check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
        MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);
        ncclComm_t comm = nullptr;
        distributed::check_nccl(ncclCommInitRank(&comm, ranks, id, rank), "ncclCommInitRank");
        test_stream nccl_stream;
        const distributed::nccl_communicator nccl(comm, nccl_stream);
        check(nccl.rank() == rank && nccl.size() == ranks, rank, "NCCL's rank and size are MPI's");

        const std::vector<double> sigmas = schedule::flux(8, 512, 512);
        const tile::layout layout = synthetic_quadtree();
        const shape4 canvas{2, 4, layout.height, layout.width};
        const canvas_inputs in(canvas);
        for (int batch : {1, 3}) {
            field::field_options options = options_for(sigmas, blend::weight_kind::gaussian, batch);
            field::field_stats single, mine;
            const host_tensor expected = run_device(layout, policy::strength{}, sigmas, in, canvas, options, &single);
            options.exchange = distributed::make_exchange(nccl);
            const host_tensor x = run_device(layout, policy::strength{}, sigmas, in, canvas, options, &mine);
            const std::string where = "tile batch " + std::to_string(batch);
            check(same_bits(x, expected), rank, where + ": the canvas equals one device field's bit for bit");
            std::uint64_t first = bytes_hash(x);
            MPI_Bcast(&first, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
            check(first == bytes_hash(x), rank, where + ": every rank holds rank 0's canvas");
            long long pixels = mine.tile_pixels, total = 0;
            MPI_Allreduce(&pixels, &total, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
            check(total == single.tile_pixels, rank, where + ": the ranks' tile-pixels sum to one field's");
            if (rank == 0)
                std::printf(
                    "%s: %d rank(s) bit-identical to one device field; rank 0 ran %lld of %lld tile-pixels, "
                    "received %lld bytes\n",
                    where.c_str(), ranks, static_cast<long long>(mine.tile_pixels),
                    static_cast<long long>(single.tile_pixels), static_cast<long long>(mine.bytes_received));
        }
        ncclCommDestroy(comm);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rank %d: %s\n", rank, e.what());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int any_failed = failures;
    MPI_Allreduce(MPI_IN_PLACE, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return any_failed ? 1 : 0;
}
