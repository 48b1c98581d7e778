// Fixtures of the distributed field's tests (tests/test_distributed.cpp with thread ranks, tests/mpi with MPI ranks):
// layouts with many, few and one batch, their inputs, and a sampling run through a field with an optional exchange.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "field_fixtures.hpp"
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

namespace fixtures {

using namespace quadflow;

inline std::vector<tile::layout> test_layouts() {
    std::vector<tile::layout> layouts = {small_quadtree(), tile::build_grid(40, 24, tile::grid_options{16, 5, 1, 1.0}),
                                         // one tile: fewer batches than ranks, ranks with no work
                                         tile::build_grid(12, 12, tile::grid_options{12, 0, 1, 1.0})};
    for (tile::layout& l : layouts)
        for (tile::layout_tile& t : l.tiles) t.strength = 0.1 + 0.8 * double((t.id * 7) % 10) / 9.0;
    return layouts;
}

struct run_inputs {
    host_tensor original, noise, target, map;
};

inline run_inputs inputs_for(const tile::layout& l) {
    const shape4 shape{1, 3, l.height, l.width};
    return {wavy(shape, 0.5f, 1.9f), wavy(shape, 1.2f, 0.7f), wavy(shape, 0.8f, 2.3f), policy::paint_strength_map(l)};
}

/// Samples with S over `sigmas` through a tiled field with `exchange` (null: one process); returns x and the stats.
template <class S, class P>
std::pair<host_tensor, field::field_stats> sample_with(const tile::layout& l, const P& policy, const run_inputs& in,
                                                       const std::vector<double>& sigmas,
                                                       std::shared_ptr<field::batch_exchange> exchange,
                                                       const std::function<void(int)>& before_call = {}) {
    model::gaussian_model gaussian(in.target.cview(), 0.1);
    struct model_with_hook {
        model::gaussian_model* model;
        const std::function<void(int)>* hook;
        prediction::kind prediction_kind() const { return model->prediction_kind(); }
        void operator()(const model::batch_request& r, mutable_view out) {
            if (*hook) (*hook)(r.step);
            (*model)(r, out);
        }
    } model{&gaussian, &before_call};
    field::field_options o;
    o.sigmas = sigmas;
    o.tile_batch_size = 2;
    o.exchange = std::move(exchange);
    const bool uses_map = policy::needs_strength_map_v<P>;
    field::tiled_field f(model, l, in.original.shape(), policy, o, in.original.cview(),
                         uses_map ? in.map.cview() : const_view{});
    host_tensor x(in.original.shape());
    sampler::noised_original(in.original.cview(), in.noise.cview(), sigmas.front(), x.view());
    S sampler;
    sampler::sample(sampler, f, x.view(), sigmas);
    return {std::move(x), f.stats()};
}

/// The runs the distributed tests compare with one process: every test layout with its inputs, under each policy
/// with a sampler: check(layout, inputs, policy, sampler).
template <class Check>
void for_each_policy_run(Check check) {
    policy::skip skip;
    skip.strength_at_most = 0.4f;
    for (const tile::layout& l : test_layouts()) {
        const run_inputs in = inputs_for(l);
        check(l, in, policy::scale{}, sampler::euler{});
        check(l, in, policy::strength{}, sampler::heun{});
        check(l, in, policy::mask{}, sampler::dpmpp_2m{});
        check(l, in, skip, sampler::euler{});
    }
}

inline bool bitwise_equal(const host_tensor& a, const host_tensor& b) {
    return a.numel() == b.numel() &&
           std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.numel()) * sizeof(float)) == 0;
}

}  // namespace fixtures
