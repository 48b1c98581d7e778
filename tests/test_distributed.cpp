// Tests of the distributed field (field/batch_exchange.hpp, quadflow/distributed): the static plan, and N ranks
// (threads standing in for processes, tests/thread_ranks.hpp) against the single-process field, bit for bit.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "distributed_fixtures.hpp"
#include "quadflow/distributed/communicator.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/model/gaussian_model.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/policy/strength_map.hpp"
#include "quadflow/sampler/dpmpp_2m.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/heun.hpp"
#include "quadflow/sampler/img2img.hpp"
#include "quadflow/sampler/sample.hpp"
#include "quadflow/tile/grid.hpp"
#include "quadflow/tile/quadtree.hpp"
#include "thread_ranks.hpp"

using namespace quadflow;
using namespace fixtures;

TEST_CASE("assign_to_ranks: largest cost first to the least-loaded rank, lowest rank on ties, within 4/3 of optimal") {
    const std::vector<std::int64_t> costs{5, 9, 9, 2, 7, 3, 3};
    const std::vector<int> owner = field::assign_to_ranks(costs, 3);
    // 9 -> 0, 9 -> 1, 7 -> 2, 5 -> 2 (7 < 9: rank 2 least loaded), 3 -> 0, 3 -> 1, 2 -> 0 or 1: loads 9,9,12 ->
    // 12,9,12 -> 12,12,12 -> 14,12,12.
    CHECK(owner == std::vector<int>{2, 0, 1, 0, 2, 0, 1});
    CHECK(field::assign_to_ranks(costs, 3) == owner);  // a pure function: every rank plans the same
    CHECK(field::assign_to_ranks(costs, 1) == std::vector<int>(costs.size(), 0));
    CHECK(field::assign_to_ranks(std::vector<std::int64_t>{4}, 3) == std::vector<int>{0});
    // The bound against the optimum by brute force over every assignment of 7 items to 3 ranks.
    for (int seed = 1; seed <= 20; ++seed) {
        std::vector<std::int64_t> c(7);
        for (std::size_t i = 0; i < c.size(); ++i) c[i] = 1 + (seed * 31 + static_cast<int>(i) * 17) % 23;
        const std::vector<int> plan = field::assign_to_ranks(c, 3);
        std::vector<std::int64_t> load(3, 0);
        for (std::size_t i = 0; i < c.size(); ++i) load[static_cast<std::size_t>(plan[i])] += c[i];
        std::int64_t best = std::accumulate(c.begin(), c.end(), std::int64_t{0});
        for (int code = 0; code < 3 * 3 * 3 * 3 * 3 * 3 * 3; ++code) {
            std::int64_t l[3] = {0, 0, 0};
            for (int i = 0, k = code; i < 7; ++i, k /= 3) l[k % 3] += c[static_cast<std::size_t>(i)];
            best = std::min(best, std::max({l[0], l[1], l[2]}));
        }
        CHECK(3 * *std::max_element(load.begin(), load.end()) <= 4 * best);
    }
    CHECK_THROWS_WITH_AS(field::assign_to_ranks(costs, 0), "ranks = 0: must be >= 1", invalid_argument);
    CHECK_THROWS_WITH_AS(field::assign_to_ranks(std::vector<std::int64_t>{1, -2}, 2), "costs[1] = -2: must be >= 0",
                         invalid_argument);
}

TEST_CASE("distributed field: 1 to 4 ranks give the single-process result bit for bit on every rank") {
    const std::vector<double> sigmas = uniform_from(1.0, 5);
    for_each_policy_run([&]<class S>(const tile::layout& l, const run_inputs& in, const auto& policy, S) {
        CAPTURE(l.tiles.size());
        using P = std::decay_t<decltype(policy)>;
        CAPTURE(P::name);
        const auto [expected, single] = sample_with<S>(l, policy, in, sigmas, nullptr);
        const auto [alone, alone_stats] =
            sample_with<S>(l, policy, in, sigmas, distributed::make_exchange(distributed::single_process{}));
        CHECK(bitwise_equal(alone, expected));
        CHECK(alone_stats.bytes_received == 0);
        for (int ranks = 2; ranks <= 4; ++ranks) {
            CAPTURE(ranks);
            std::vector<host_tensor> results(static_cast<std::size_t>(ranks));
            std::vector<field::field_stats> stats(static_cast<std::size_t>(ranks));
            fixtures::run_ranks(ranks, [&](int rank, fixtures::thread_rank comm) {
                auto [x, s] = sample_with<S>(l, policy, in, sigmas, distributed::make_exchange(comm));
                results[static_cast<std::size_t>(rank)] = std::move(x);
                stats[static_cast<std::size_t>(rank)] = s;
            });
            std::int64_t calls = 0, tile_pixels = 0;
            for (int r = 0; r < ranks; ++r) {
                CHECK(bitwise_equal(results[static_cast<std::size_t>(r)], expected));
                calls += stats[static_cast<std::size_t>(r)].model_calls;
                tile_pixels += stats[static_cast<std::size_t>(r)].tile_pixels;
            }
            // The ranks split the single process's model work exactly.
            CHECK(calls == single.model_calls);
            CHECK(tile_pixels == single.tile_pixels);
            if (single.model_calls > 0 && l.tiles.size() == 1)
                CHECK(std::count_if(stats.begin(), stats.end(),
                                    [](const field::field_stats& s) { return s.model_calls == 0; }) == ranks - 1);
        }
    });
}

TEST_CASE("distributed field: a model that throws on one rank makes every rank throw the same model_error") {
    const tile::layout l = test_layouts()[1];
    const run_inputs in = inputs_for(l);
    const std::vector<double> sigmas = uniform_from(1.0, 4);
    const int ranks = 3;
    std::vector<std::string> messages(ranks);
    fixtures::run_ranks(ranks, [&](int rank, fixtures::thread_rank comm) {
        const std::function<void(int)> fail_on_rank_1_at_step_2 = [rank](int step) {
            if (rank == 1 && step == 2) throw std::runtime_error("out of memory on the device");
        };
        try {
            sample_with<sampler::euler>(l, policy::scale{}, in, sigmas, distributed::make_exchange(comm),
                                        fail_on_rank_1_at_step_2);
        } catch (const model_error& e) {
            messages[static_cast<std::size_t>(rank)] = e.what();
        }
    });
    CHECK(messages[0] == "the model failed on rank 1 of 3 at step 2, sigma 0.5: out of memory on the device");
    CHECK(messages[1] == messages[0]);
    CHECK(messages[2] == messages[0]);
}

TEST_CASE("distributed: single_process and exchange_over check their arguments") {
    distributed::single_process one;
    const std::vector<float> mine{1.0f, 2.0f};
    std::vector<float> all(3);
    const std::vector<std::int64_t> counts{2};
    CHECK_THROWS_WITH_AS(one.all_gather_v(mine, all, counts), "all.size() = 3: must be the sum of counts = 2",
                         invalid_argument);
    const std::vector<std::int64_t> two_ranks{1, 1};
    CHECK_THROWS_WITH_AS(one.all_gather_v(mine, std::span<float>(all.data(), 2), two_ranks),
                         "counts.size() = 2: must be size() = 1", invalid_argument);
    std::vector<std::byte> bytes(4);
    CHECK_THROWS_WITH_AS(one.broadcast(bytes, 1), "root = 1: must be in [0, size() = 1)", invalid_argument);
    struct bad_rank : distributed::single_process {
        int rank() const { return 2; }
    };
    CHECK_THROWS_WITH_AS(distributed::make_exchange(bad_rank{}), "communicator rank = 2: must be in [0, size() = 1)",
                         invalid_argument);
}

namespace {
/// single_process, declaring device memory.
struct device_memory : distributed::single_process {
    static constexpr memory_space memory = memory_space::device;
};
}  // namespace

TEST_CASE("distributed: the CPU field refuses an exchange of device memory") {
    static_assert(distributed::memory_of<device_memory>() == memory_space::device);
    const tile::layout l = test_layouts()[0];
    const run_inputs in = inputs_for(l);
    field::field_options options;
    options.exchange = distributed::make_exchange(device_memory{});
    model::gaussian_model model(in.target.cview(), 0.2);
    CHECK_THROWS_WITH_AS(field::tiled_field(model, l, in.original.shape(), policy::scale{}, options),
                         "exchange memory = device: field::tiled_field exchanges host memory (an MPI communicator); a "
                         "device exchange (NCCL) is for cuda::device_tiled_field",
                         invalid_argument);
}
