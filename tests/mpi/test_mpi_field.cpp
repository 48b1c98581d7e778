// The distributed field over MPI ranks (distributed/mpi.hpp), run by ctest under mpirun with 1 to 4 processes: every
// rank's canvas equals the single-process field's bit for bit, and a model failing on one rank makes every rank
// throw the same model_error. Each rank runs doctest; mpirun exits non-zero if any rank fails.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "distributed_fixtures.hpp"
#include "quadflow/distributed/mpi.hpp"
#include "quadflow/sampler/dpmpp_2m.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/heun.hpp"

using namespace quadflow;
using namespace fixtures;

namespace {

/// The CRC-free checksum of a canvas: its bytes summed as 64-bit words (to compare canvases across ranks).
std::uint64_t bytes_sum(const host_tensor& x) {
    std::uint64_t sum = 0;
    const auto* bytes = reinterpret_cast<const unsigned char*>(x.data());
    for (std::int64_t i = 0; i < x.numel() * std::int64_t{sizeof(float)}; ++i)
        sum = sum * 1099511628211ull + bytes[static_cast<std::size_t>(i)];
    return sum;
}

}  // namespace

TEST_CASE("MPI ranks: every rank's canvas equals the single-process field's, bit for bit") {
    distributed::mpi_communicator comm(MPI_COMM_WORLD);
    const std::vector<double> sigmas = uniform_from(1.0, 5);
    for_each_policy_run([&]<class S>(const tile::layout& l, const run_inputs& in, const auto& policy, S) {
        CAPTURE(l.tiles.size());
        CAPTURE(std::decay_t<decltype(policy)>::name);
        const auto [expected, single] = sample_with<S>(l, policy, in, sigmas, nullptr);
        const auto [x, stats] = sample_with<S>(l, policy, in, sigmas, distributed::make_exchange(comm));
        CHECK(bitwise_equal(x, expected));
        // Every rank holds the same x, and the ranks split the model work exactly.
        std::uint64_t mine = bytes_sum(x), first = mine;
        MPI_Bcast(&first, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
        CHECK(mine == first);
        long long pixels = stats.tile_pixels, total = 0;
        MPI_Allreduce(&pixels, &total, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
        CHECK(total == single.tile_pixels);
    });
}

TEST_CASE("MPI ranks: a model that throws on the last rank makes every rank throw the same model_error") {
    distributed::mpi_communicator comm(MPI_COMM_WORLD);
    const tile::layout l = test_layouts()[0];  // the quadtree: more batches than ranks
    const run_inputs in = inputs_for(l);
    const int failing = comm.size() - 1, rank = comm.rank();
    const std::function<void(int)> fail_at_step_2 = [&](int step) {
        if (rank == failing && step == 2) throw std::runtime_error("out of memory on the device");
    };
    std::string message;
    try {
        sample_with<sampler::euler>(l, policy::scale{}, in, uniform_from(1.0, 4), distributed::make_exchange(comm),
                                    fail_at_step_2);
    } catch (const model_error& e) {
        message = e.what();
    }
    CHECK(message == "the model failed on rank " + std::to_string(failing) + " of " + std::to_string(comm.size()) +
                         " at step 2, sigma 0.5: out of memory on the device");
}

TEST_CASE("mpi_communicator checks its arguments") {
    distributed::mpi_communicator comm(MPI_COMM_WORLD);
    std::vector<std::byte> bytes(4);
    CHECK_THROWS_WITH_AS(
        comm.broadcast(bytes, comm.size()),
        ("root = " + std::to_string(comm.size()) + ": must be in [0, size() = " + std::to_string(comm.size()) + ")")
            .c_str(),
        invalid_argument);
    const std::vector<std::int64_t> counts(static_cast<std::size_t>(comm.size()) + 1, 0);
    std::vector<float> none;
    CHECK_THROWS_AS(comm.all_gather_v(none, none, counts), invalid_argument);
}

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    doctest::Context context(argc, argv);
    const int failures = context.run();
    int any = failures != 0 ? 1 : 0, all = 0;
    MPI_Allreduce(&any, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    return all;
}
