// Fixtures of the tiled field's and the policies' tests (tests/test_field.cpp, tests/test_policies.cpp): a 16 x 16
// canvas and its inputs, field options, and a sampling run through a tiled field from the noised original.
#pragma once

#include <vector>

#include "field_fixtures.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/model/gaussian_model.hpp"
#include "quadflow/sampler/img2img.hpp"
#include "quadflow/sampler/sample.hpp"

namespace fixtures {

using namespace quadflow;

inline constexpr shape4 canvas{1, 3, 16, 16};

inline field::field_options options_for(const std::vector<double>& sigmas,
                                        blend::weight_kind weights = blend::weight_kind::gaussian, int batch = 4,
                                        schedule::strength_rule rule = schedule::strength_rule::diffusers) {
    field::field_options o;
    o.weights = blend::weight_params{weights, 0.01f};
    o.tile_batch_size = batch;
    o.sigmas = sigmas;
    o.strength_rule = rule;
    return o;
}

/// Runs sampler S over `sigmas` from the noised original at sigmas[0] with a tiled field.
template <class S, class P>
host_tensor run_tiled(const tile::layout& layout, P policy, const std::vector<double>& sigmas,
                      const host_tensor& original, const host_tensor& noise, const host_tensor& target, double data_std,
                      field::field_options options, field::field_stats* stats = nullptr) {
    model::gaussian_model model(target.cview(), data_std);
    options.sigmas = sigmas;
    field::tiled_field f(model, layout, original.shape(), policy, options, original.cview());
    host_tensor x(original.shape());
    sampler::noised_original(original.cview(), noise.cview(), sigmas.front(), x.view());
    S s;
    sampler::sample(s, f, x.view(), sigmas);
    if (stats) *stats = f.stats();
    return x;
}

struct inputs {
    host_tensor original = wavy(canvas, 1.0f, 0.3f);
    host_tensor noise = wavy(canvas, 1.5f, 1.7f);
    host_tensor target = wavy(canvas, 0.8f, 2.9f);
};

}  // namespace fixtures
