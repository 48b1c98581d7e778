// Tests of the model interface: the tile model concept, the whole-latent x0 adapter, the Gaussian model.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "quadflow/field/canvas_field.hpp"
#include "quadflow/model/gaussian_model.hpp"
#include "quadflow/model/latent_denoiser.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/sample.hpp"

using namespace quadflow;

namespace {
host_tensor ramp(shape4 s, float scale) {
    host_tensor t(s);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.span()[i] = scale * std::sin(0.37f * float(i));
    return t;
}
}  // namespace

TEST_CASE("the Gaussian model gives the same flow velocity whatever kind it writes") {
    const host_tensor mu = ramp(shape4{1, 2, 4, 6}, 1.0f);
    const host_tensor x = ramp(shape4{1, 2, 4, 6}, 0.5f);
    host_tensor reference(x.shape());
    for (auto k : {prediction::kind::flow_velocity, prediction::kind::denoised, prediction::kind::t_velocity,
                   prediction::kind::epsilon}) {
        model::gaussian_model m(mu.cview(), 0.3, k);
        field::canvas_field field(m);
        host_tensor v(x.shape());
        field(x.cview(), 0.45, v.view());
        if (k == prediction::kind::flow_velocity) reference = v;
        for (std::int64_t i = 0; i < v.numel(); ++i)
            CHECK(v.span()[i] == doctest::Approx(reference.span()[i]).epsilon(1e-5));
    }
}

TEST_CASE("a tile's padded pixels outside the canvas see the reflected target") {
    const host_tensor mu = ramp(shape4{1, 1, 3, 4}, 1.0f);
    model::gaussian_model m(mu.cview(), 0.0, prediction::kind::denoised);
    // One tile whose padded rectangle starts one pixel left of and above the canvas.
    host_tensor tile(shape4{1, 1, 3, 3}, 0.0f);
    host_tensor out(tile.shape());
    const model::tile_info info{rect{-1, -1, 3, 3},   rect{0, 0, 2, 2},   7, 0,
                                rect{-8, -8, 24, 24}, rect{0, 0, 16, 16}, 0};
    m(model::batch_request{tile.cview(), 0.5, 3, std::span(&info, 1), {}, {}}, out.view());
    // With data_std = 0 the denoised estimate is the target itself.
    CHECK(out(0, 0, 0, 0) == mu(0, 0, 1, 1));
    CHECK(out(0, 0, 1, 1) == mu(0, 0, 0, 0));
    CHECK(out(0, 0, 2, 0) == mu(0, 0, 1, 1));
    CHECK(m.calls() == 1);
    CHECK(m.elements_evaluated() == 9);
}

TEST_CASE("a whole-latent x0 callback drives an untiled run exactly like the native model") {
    const host_tensor mu = ramp(shape4{1, 2, 3, 3}, 1.0f);
    const host_tensor noise = ramp(shape4{1, 2, 3, 3}, 0.9f);
    const std::vector<double> sigmas = {1.0, 0.8, 0.55, 0.3, 0.1, 0.0};

    model::gaussian_model native(mu.cview(), 0.25);
    field::canvas_field native_field(native);
    host_tensor a = noise;
    sampler::euler s;
    sampler::sample(s, native_field, a.view(), sigmas);

    // The stable-diffusion.cpp shape: latent in, sigma, step; x0 out.
    std::vector<int> steps_seen;
    auto callback = [&](const_view latent, double sigma, int step, mutable_view denoised) {
        steps_seen.push_back(step);
        for (std::int64_t c = 0; c < latent.shape().c; ++c)
            for (std::int64_t y = 0; y < latent.shape().h; ++y)
                for (std::int64_t x = 0; x < latent.shape().w; ++x)
                    denoised(0, c, y, x) = static_cast<float>(
                        model::gaussian_posterior_mean(latent(0, c, y, x), sigma, mu(0, c, y, x), 0.25));
    };
    model::latent_denoiser adapter(callback);
    field::canvas_field adapted_field(adapter);
    host_tensor b = noise;
    sampler::sample(s, adapted_field, b.view(), sigmas);
    for (std::int64_t i = 0; i < a.numel(); ++i) CHECK(b.span()[i] == doctest::Approx(a.span()[i]).epsilon(1e-5));
    CHECK(steps_seen == std::vector<int>{0, 1, 2, 3, 4});
}

TEST_CASE("model arguments are checked") {
    const host_tensor mu(shape4{2, 1, 2, 2});
    CHECK_THROWS_WITH_AS(model::gaussian_model(mu.cview(), 0.1), doctest::Contains("gaussian_model.mu.shape().n = 2"),
                         invalid_argument);
    const host_tensor one(shape4{1, 1, 2, 2});
    CHECK_THROWS_WITH_AS(model::gaussian_model(one.cview(), -1.0), doctest::Contains("data_std = -1"),
                         invalid_argument);
    model::gaussian_model m(one.cview(), 0.1);
    host_tensor x(shape4{2, 1, 2, 2}), out(shape4{2, 1, 2, 2}), small(shape4{1, 1, 2, 2});
    const model::tile_info info{};
    CHECK_THROWS_WITH_AS(m(model::batch_request{x.cview(), 0.5, 0, std::span(&info, 1), {}, {}}, out.view()),
                         doctest::Contains("batch_request.tiles.size() = 1"), invalid_argument);
    CHECK_THROWS_WITH_AS(m(model::batch_request{x.cview(), 0.5, 0, std::span(&info, 1), {}, {}}, small.view()),
                         doctest::Contains("model output has shape [1, 1, 2, 2]"), shape_error);
}
