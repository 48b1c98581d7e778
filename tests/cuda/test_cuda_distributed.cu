// Tests of the distributed device field: cuda::device_tiled_field with a device-memory exchange, split over 1 to 3
// ranks (threads with device buffers standing in for GPUs) and over a single-rank NCCL communicator, against one
// device field bit for bit; a model that throws on one rank; the errors. `--host-only` runs the checks that need no
// GPU; otherwise the program exits 77 ("no CUDA device: skipped") when there is no GPU.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cuda_fixtures.cuh"
#include "cuda_test_main.cuh"
#include "quadflow/distributed/communicator.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/tile/grid.hpp"
#include "thread_ranks.hpp"
#if QUADFLOW_HAS_NCCL
#include "quadflow/distributed/nccl.hpp"
#endif

using namespace quadflow;
using namespace cuda_fixtures;

namespace test_doubles {

/// Rank `rank` of a fixtures::thread_group whose buffers are device memory: parts travel through host staging.
class device_thread_rank {
public:
    static constexpr memory_space memory = memory_space::device;
    device_thread_rank(std::shared_ptr<fixtures::thread_group> group, int rank)
        : group_(std::move(group)), rank_(rank) {}
    int rank() const { return rank_; }
    int size() const { return group_->size; }
    void all_gather(std::span<const std::byte> mine, std::span<std::byte> all) {
        auto& staged = group_->bytes[static_cast<std::size_t>(rank_)];
        staged.resize(mine.size());
        QUADFLOW_CUDA_CHECK(cudaMemcpy(staged.data(), mine.data(), mine.size(), cudaMemcpyDeviceToHost));
        group_->barrier.arrive_and_wait();
        for (int r = 0; r < size(); ++r) {
            const auto& part = group_->bytes[static_cast<std::size_t>(r)];
            QUADFLOW_CUDA_CHECK(cudaMemcpy(all.data() + static_cast<std::size_t>(r) * mine.size(), part.data(),
                                           part.size(), cudaMemcpyHostToDevice));
        }
        group_->barrier.arrive_and_wait();
    }
    void all_gather_v(std::span<const float> mine, std::span<float> all, std::span<const std::int64_t> counts) {
        auto& staged = group_->floats[static_cast<std::size_t>(rank_)];
        staged.resize(mine.size());
        QUADFLOW_CUDA_CHECK(
            cudaMemcpy(staged.data(), mine.data(), mine.size() * sizeof(float), cudaMemcpyDeviceToHost));
        group_->barrier.arrive_and_wait();
        std::size_t at = 0;
        for (int r = 0; r < size(); ++r) {
            const auto& part = group_->floats[static_cast<std::size_t>(r)];
            if (static_cast<std::int64_t>(part.size()) != counts[static_cast<std::size_t>(r)]) std::abort();
            QUADFLOW_CUDA_CHECK(
                cudaMemcpy(all.data() + at, part.data(), part.size() * sizeof(float), cudaMemcpyHostToDevice));
            at += part.size();
        }
        group_->barrier.arrive_and_wait();
    }
    void broadcast(std::span<std::byte>, int) { std::abort(); }  // the field does not broadcast
    void abort(int code) const noexcept { std::_Exit(code == 0 ? 1 : code); }

private:
    std::shared_ptr<fixtures::thread_group> group_;
    int rank_;
};
static_assert(distributed::communicator<device_thread_rank>);
static_assert(distributed::memory_of<device_thread_rank>() == memory_space::device);

}  // namespace test_doubles

using test_doubles::device_thread_rank;

namespace {

/// Runs body(rank, communicator) on `ranks` threads (each on device 0), and waits for all of them.
template <class Body>
void run_device_ranks(int ranks, Body body) {
    auto group = std::make_shared<fixtures::thread_group>(ranks);
    fixtures::run_ranks(ranks, [&](int rank, fixtures::thread_rank) {
        QUADFLOW_CUDA_CHECK(cudaSetDevice(0));
        body(rank, device_thread_rank(group, rank));
    });
}

/// A grid over a canvas it does not divide, with strengths from 0 to 1 (some tiles need no model late on).
tile::layout graded_grid() {
    tile::layout l = tile::build_grid(70, 54, {.tile = 24, .overlap_latent = 6, .latent_scale = 8});
    for (std::size_t i = 0; i < l.tiles.size(); ++i) l.tiles[i].strength = static_cast<double>(i % 5) / 4.0;
    return l;
}

/// device_gaussian_model, throwing on one rank at one step.
class failing_model {
public:
    failing_model(const_view target, int rank) : model_(target, 0.1, prediction::kind::denoised), rank_(rank) {}
    prediction::kind prediction_kind() const { return model_.prediction_kind(); }
    void operator()(const model::batch_request& request, mutable_view out, cudaStream_t stream) {
        if (rank_ == 1 && request.step == 2) throw std::runtime_error("CUDA out of memory in the model");
        model_(request, out, stream);
    }

private:
    testing::device_gaussian_model model_;
    int rank_;
};

}  // namespace

TEST_SUITE("host") {
    TEST_CASE("memory_of: a communicator's memory space, host when it does not say") {
        CHECK(distributed::memory_of<distributed::single_process>() == memory_space::host);
        CHECK(distributed::make_exchange(distributed::single_process{})->memory() == memory_space::host);
#if QUADFLOW_HAS_NCCL
        static_assert(distributed::communicator<distributed::nccl_communicator>);
        CHECK(distributed::memory_of<distributed::nccl_communicator>() == memory_space::device);
#endif
    }

#if QUADFLOW_HAS_NCCL
    TEST_CASE("nccl_communicator: NCCL's errors name the call; a null communicator is refused") {
        CHECK_THROWS_WITH_AS(distributed::check_nccl(ncclInvalidArgument, "ncclAllGather"),
                             doctest::Contains("ncclAllGather failed: invalid argument"), error);
        CHECK_THROWS_WITH_AS(distributed::nccl_communicator(nullptr, nullptr),
                             "comm = null: must be an initialized ncclComm_t (ncclCommInitRank)", invalid_argument);
    }
#endif
}

TEST_SUITE("device") {
    TEST_CASE("a device field split over 1 to 3 ranks equals one device field bit for bit on every rank") {
        const std::vector<double> sigmas = schedule::flux(8, 512, 512);
        for (const tile::layout& layout : {synthetic_quadtree(), graded_grid()}) {
            CAPTURE(layout.tiles.size());
            const shape4 canvas{2, 4, layout.height, layout.width};
            const canvas_inputs in(canvas);
            for (int batch : {1, 3}) {
                CAPTURE(batch);
                const field::field_options options = options_for(sigmas, blend::weight_kind::gaussian, batch);
                field::field_stats single;
                const host_tensor expected =
                    run_device(layout, policy::strength{}, sigmas, in, canvas, options, &single);
                for (int ranks = 1; ranks <= 3; ++ranks) {
                    CAPTURE(ranks);
                    std::vector<host_tensor> results(static_cast<std::size_t>(ranks));
                    std::vector<field::field_stats> stats(static_cast<std::size_t>(ranks));
                    run_device_ranks(ranks, [&](int rank, device_thread_rank comm) {
                        field::field_options mine = options;
                        mine.exchange = distributed::make_exchange(comm);
                        results[static_cast<std::size_t>(rank)] =
                            run_device(layout, policy::strength{}, sigmas, in, canvas, mine,
                                       &stats[static_cast<std::size_t>(rank)]);
                    });
                    std::int64_t calls = 0, tile_pixels = 0;
                    for (int r = 0; r < ranks; ++r) {
                        CHECK(same_bits(results[static_cast<std::size_t>(r)], expected));
                        calls += stats[static_cast<std::size_t>(r)].model_calls;
                        tile_pixels += stats[static_cast<std::size_t>(r)].tile_pixels;
                    }
                    CHECK(calls == single.model_calls);
                    CHECK(tile_pixels == single.tile_pixels);
                    if (ranks == 1) CHECK(stats[0].bytes_received == 0);
                }
            }
        }
    }

    TEST_CASE("a model that throws on one rank makes every rank's device field throw the same model_error") {
        const tile::layout layout = synthetic_quadtree();
        const shape4 canvas{1, 3, layout.height, layout.width};
        const canvas_inputs in(canvas);
        const std::vector<double> sigmas = schedule::flux(6, 512, 512);
        const int ranks = 3;
        std::vector<std::string> messages(ranks);
        run_device_ranks(ranks, [&](int rank, device_thread_rank comm) {
            test_stream stream;
            const cuda::device_tensor original(in.original, stream), noise(in.noise, stream), target(in.target, stream);
            failing_model model(target.cview(), rank);
            field::field_options options = options_for(sigmas, blend::weight_kind::gaussian);
            options.exchange = distributed::make_exchange(comm);
            cuda::device_tiled_field field(model, layout, canvas, policy::strength{}, options, stream,
                                           original.cview());
            cuda::device_tensor x(canvas);
            cuda::noised_original(original.cview(), noise.cview(), sigmas.front(), x.view(), stream);
            cuda::euler euler(stream);
            try {
                cuda::sample(euler, field, x.view(), sigmas);
            } catch (const model_error& e) {
                messages[static_cast<std::size_t>(rank)] = e.what();
            }
        });
        CHECK(messages[0].starts_with("the model failed on rank 1 of 3 at step 2, sigma "));
        CHECK(messages[0].ends_with(": CUDA out of memory in the model"));
        CHECK(messages[1] == messages[0]);
        CHECK(messages[2] == messages[0]);
    }

    TEST_CASE("the device field refuses a host exchange, the CPU field a device one") {
        const synthetic_device_case device_case;
        const auto& [layout, canvas, in, stream, target] = device_case;
        testing::device_gaussian_model model(target.cview(), 0.1);
        field::field_options options;
        options.exchange = distributed::make_exchange(distributed::single_process{});
        CHECK_THROWS_WITH_AS(cuda::device_tiled_field(model, layout, canvas, policy::scale{}, options, stream),
                             doctest::Contains("exchange memory = host: cuda::device_tiled_field exchanges device "
                                               "memory"),
                             invalid_argument);
    }

#if QUADFLOW_HAS_NCCL
    TEST_CASE("a single-rank NCCL communicator: the device field equals one device field bit for bit") {
        int device = 0;
        ncclComm_t comm = nullptr;
        REQUIRE(ncclCommInitAll(&comm, 1, &device) == ncclSuccess);
        test_stream nccl_stream;
        const tile::layout layout = synthetic_quadtree();
        const shape4 canvas{2, 4, layout.height, layout.width};
        const canvas_inputs in(canvas);
        const std::vector<double> sigmas = schedule::flux(8, 512, 512);
        field::field_options options = options_for(sigmas, blend::weight_kind::gaussian);
        field::field_stats single, over_nccl;
        const host_tensor expected = run_device(layout, policy::strength{}, sigmas, in, canvas, options, &single);
        distributed::nccl_communicator nccl(comm, nccl_stream);
        CHECK(nccl.rank() == 0);
        CHECK(nccl.size() == 1);
        options.exchange = distributed::make_exchange(nccl);
        CHECK(options.exchange->memory() == memory_space::device);
        const host_tensor result = run_device(layout, policy::strength{}, sigmas, in, canvas, options, &over_nccl);
        CHECK(same_bits(result, expected));
        CHECK(over_nccl.model_calls == single.model_calls);
        CHECK(over_nccl.tile_pixels == single.tile_pixels);
        CHECK(over_nccl.bytes_received == 0);
        ncclCommDestroy(comm);
    }
#endif
}

int main(int argc, char** argv) {
#if !QUADFLOW_HAS_NCCL
    std::printf("NCCL not found at configure time: the NCCL communicator's checks are not built\n");
#endif
    return cuda_fixtures::run_tests(argc, argv);
}
