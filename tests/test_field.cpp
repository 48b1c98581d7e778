// Tests of the tiled velocity field: seams, bit-identical output for any batch size, thread count and arena size,
// model calls saved, no allocation per step, errors, and one evaluation against the blend's definition.
#include <doctest/doctest.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "quadflow/field/tiled_field.hpp"
#include "quadflow/metrics/metrics.hpp"
#include "quadflow/model/gaussian_model.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/sampler/dpmpp_2m.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/heun.hpp"
#include "quadflow/sampler/img2img.hpp"
#include "quadflow/sampler/sample.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/tile/grid.hpp"
#include "tiled_runs.hpp"

#include "counting_allocator.hpp"  // every operator new in this test program bumps `allocations`

using namespace quadflow;
using namespace fixtures;  // the grid layouts, canvas, inputs and run_tiled of tiled_runs.hpp

TEST_CASE("seams: overlap with Gaussian weights makes tile borders smoother than hard tiles") {
    constexpr shape4 big{1, 3, 32, 32};
    const host_tensor noise = wavy(big, 1.0f, 0.7f);
    const auto sigmas = schedule::flux(8, 512, 512);
    // A smooth prompt target, so that what differs between tiles (their input means) shows at borders.
    host_tensor smooth(big);
    for (std::int64_t c = 0; c < 3; ++c)
        for (std::int64_t y = 0; y < 32; ++y)
            for (std::int64_t x = 0; x < 32; ++x) smooth(0, c, y, x) = 0.5f * std::sin(0.1f * x + 0.05f * y + c);
    fixtures::tile_mean_model model{smooth.cview()};
    const auto cores = grid_layout(4, 4, 8, 0, {1.0});
    auto seam_with = [&](std::int64_t overlap, blend::weight_kind weights) {
        field::tiled_field f(model, grid_layout(4, 4, 8, overlap, {1.0}), big, policy::scale{},
                             options_for(sigmas, weights));
        host_tensor x = noise;
        sampler::euler s;
        sampler::sample(s, f, x.view(), sigmas);
        return metrics::seam_score(x.cview(), cores);
    };
    const double hard = seam_with(0, blend::weight_kind::uniform);
    const double gaussian = seam_with(4, blend::weight_kind::gaussian);
    const double smooth_ramps = seam_with(4, blend::weight_kind::smootherstep);
    CAPTURE(hard);
    CAPTURE(gaussian);
    CAPTURE(smooth_ramps);
    CHECK(hard > 2.0);
    CHECK(gaussian < 0.7 * hard);      // measured 3.40 vs 5.60: variance 0.01 is narrow for a 4-px overlap
    CHECK(smooth_ramps < 0.2 * hard);  // measured 0.72
}

TEST_CASE("the same seed gives bit-identical output for any tile_batch_size") {
    const inputs in;
    const auto wide = grid_layout(4, 4, 4, 2, {0.2, 0.9, 0.5});
    const auto sigmas = schedule::flux(10, 512, 512);
    auto run = [&](int batch) {
        return run_tiled<sampler::heun>(wide, policy::strength{}, sigmas, in.original, in.noise, in.target, 0.3,
                                        options_for(sigmas, blend::weight_kind::gaussian, batch));
    };
    const host_tensor one = run(1);
    for (int batch : {2, 3, 8}) {
        const host_tensor other = run(batch);
        CHECK(std::memcmp(one.data(), other.data(), sizeof(float) * std::size_t(one.numel())) == 0);
    }
}

TEST_CASE("the output is bit-identical for any thread count and arena size") {
    const inputs in;
    const auto layout = grid_layout(4, 4, 4, 2, {0.2, 0.9, 0.5, 1.0});
    const auto sigmas = schedule::flux(10, 512, 512);
    auto run = [&](int threads, std::int64_t arena) {
        auto o = options_for(sigmas, blend::weight_kind::gaussian, 3);
        o.threads = threads;
        o.arena_elements = arena;
        return run_tiled<sampler::heun>(layout, policy::strength{}, sigmas, in.original, in.noise, in.target, 0.3, o);
    };
    const host_tensor reference = run(1, 1 << 20);
    for (auto [threads, arena] : {std::pair{2, std::int64_t{1} << 20}, {3, 1}, {1, 200}}) {
        const host_tensor other = run(threads, arena);
        CHECK(std::memcmp(reference.data(), other.data(), sizeof(float) * std::size_t(reference.numel())) == 0);
    }
}

TEST_CASE("DPM++ 2M with the mask policy is bit-identical for any batch size, thread count and arena size") {
    const inputs in;
    const auto layout = grid_layout(4, 4, 4, 2, {0.1, 0.6, 0.35, 1.0});
    const auto sigmas = schedule::flux(12, 512, 512);
    host_tensor mask(shape4{1, 1, 16, 16});
    for (std::int64_t i = 0; i < mask.numel(); ++i) mask.span()[i] = static_cast<float>((i * 37) % 101) / 100.0f;
    auto run = [&](int batch, int threads, std::int64_t arena) {
        model::gaussian_model model(in.target.cview(), 0.25);
        auto o = options_for(sigmas, blend::weight_kind::smootherstep, batch);
        o.threads = threads;
        o.arena_elements = arena;
        field::tiled_field f(model, layout, canvas, policy::mask{}, o, in.original.cview(), mask.cview());
        host_tensor x(canvas);
        sampler::noised_original(in.original.cview(), in.noise.cview(), sigmas.front(), x.view());
        sampler::dpmpp_2m s;
        sampler::sample(s, f, x.view(), sigmas);
        return x;
    };
    const host_tensor reference = run(4, 1, std::int64_t{1} << 20);
    CHECK(std::memcmp(reference.data(), run(4, 1, std::int64_t{1} << 20).data(),
                      sizeof(float) * std::size_t(reference.numel())) == 0);  // run to run
    for (auto [batch, threads, arena] :
         {std::tuple{1, 1, std::int64_t{1} << 20}, {3, 2, 500}, {16, 3, 1}, {2, 4, 64}}) {
        CAPTURE(batch);
        CAPTURE(threads);
        CAPTURE(arena);
        const host_tensor other = run(batch, threads, arena);
        CHECK(std::memcmp(reference.data(), other.data(), sizeof(float) * std::size_t(reference.numel())) == 0);
    }
}

TEST_CASE("fields on several threads at once, sharing one layout, give the single-threaded result") {
    const inputs in;
    const auto layout = grid_layout(4, 4, 4, 2, {0.2, 0.9, 0.5, 1.0});
    const auto sigmas = schedule::flux(8, 512, 512);
    // One model and one field per thread; the layout, original, noise and target are shared read-only.
    auto run = [&](host_tensor& out) {
        model::gaussian_model model(in.target.cview(), 0.3);
        field::tiled_field f(model, layout, canvas, policy::strength{},
                             options_for(sigmas, blend::weight_kind::gaussian, 3), in.original.cview());
        out = host_tensor(canvas);
        sampler::noised_original(in.original.cview(), in.noise.cview(), sigmas.front(), out.view());
        sampler::heun s;
        sampler::sample(s, f, out.view(), sigmas);
    };
    host_tensor reference;
    run(reference);
    std::vector<host_tensor> results(4);
    std::vector<std::thread> threads;
    for (host_tensor& r : results) threads.emplace_back([&run, &r] { run(r); });
    for (std::thread& t : threads) t.join();
    for (const host_tensor& r : results)
        CHECK(std::memcmp(reference.data(), r.data(), sizeof(float) * std::size_t(reference.numel())) == 0);
}

TEST_CASE("tiles that need no model output are not sent, and the calls saved are counted") {
    const inputs in;
    const auto layout = grid_layout(2, 2, 8, 0, {0.25, 1.0});  // two tiles at 0.25, two at 1.0
    const auto sigmas = schedule::flux(20, 1024, 1024);
    field::field_stats stats;
    run_tiled<sampler::euler>(layout, policy::strength{}, sigmas, in.original, in.noise, in.target, 0.1,
                              options_for(sigmas, blend::weight_kind::gaussian, 1), &stats);
    // diffusers rule, N = 20: d = 1 runs 20 steps, d = 0.25 runs 5 (start index 15).
    CHECK(stats.tiles_evaluated == 2 * 20 + 2 * 5);
    CHECK(stats.model_calls == stats.tiles_evaluated);
    CHECK(stats.calls_saved == 4 * 20 - stats.model_calls);
    CHECK(stats.tile_pixels == stats.tiles_evaluated * 64);
}

TEST_CASE("steady state allocates nothing per step") {
    const inputs in;
    const auto layout = grid_layout(4, 4, 4, 2, {0.3, 1.0});
    const auto sigmas = schedule::flux(10, 512, 512);
    model::gaussian_model model(in.target.cview(), 0.2);
    field::tiled_field f(model, layout, canvas, policy::strength{}, options_for(sigmas), in.original.cview());
    host_tensor x = in.noise;
    sampler::heun s;
    s.reset(canvas);
    f.on_step(0, sigmas[0], sigmas[1]);
    s.step(f, x.view(), sigmas[0], sigmas[1]);  // warm-up
    const long before = allocations.load();
    for (int i = 1; i < 9; ++i) {
        f.on_step(i, sigmas[i], sigmas[i + 1]);
        s.step(f, x.view(), sigmas[i], sigmas[i + 1]);
    }
    CHECK(allocations.load() - before == 0);
}

TEST_CASE("bad field input gets clear errors") {
    const inputs in;
    const auto layout = grid_layout(2, 2, 8, 0, {0.5});
    const auto sigmas = schedule::flux(4, 512, 512);
    model::gaussian_model model(in.target.cview(), 0.2);

    SUBCASE("a policy that needs an original, without one (txt2img)") {
        CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, canvas, policy::strength{}, options_for(sigmas)),
                             doctest::Contains("original = none"), invalid_argument);
    }
    SUBCASE("an original whose shape differs from the canvas") {
        host_tensor small(shape4{1, 3, 8, 8});
        CHECK_THROWS_WITH_AS(
            field::tiled_field(model, layout, canvas, policy::strength{}, options_for(sigmas), small.cview()),
            doctest::Contains("original has shape [1, 3, 8, 8]"), shape_error);
    }
    SUBCASE("a canvas that does not match the layout") {
        CHECK_THROWS_WITH_AS(
            field::tiled_field(model, layout, shape4{1, 3, 16, 24}, policy::scale{}, options_for(sigmas)),
            doctest::Contains("does not match the layout"), shape_error);
    }
    SUBCASE("a mask of the wrong size") {
        host_tensor mask(shape4{1, 1, 8, 16}, 0.5f);
        CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, canvas, policy::mask{}, options_for(sigmas),
                                                in.original.cview(), mask.cview()),
                             doctest::Contains("strength_map has shape [1, 1, 8, 16]"), shape_error);
    }
    SUBCASE("a mask value outside [0, 1]") {
        host_tensor mask(shape4{1, 1, 16, 16}, 0.5f);
        mask(0, 0, 3, 2) = 1.5f;
        CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, canvas, policy::mask{}, options_for(sigmas),
                                                in.original.cview(), mask.cview()),
                             doctest::Contains("strength_map[50] = 1.5"), invalid_argument);
    }
    SUBCASE("a tile strength outside [0, 1]") {
        auto bad = layout;
        bad.tiles[2].strength = 1.5;
        CHECK_THROWS_WITH_AS(field::tiled_field(model, bad, canvas, policy::scale{}, options_for(sigmas)),
                             doctest::Contains("layout.tiles[2].strength = 1.5"), invalid_argument);
    }
    SUBCASE("an original with NaN") {
        host_tensor bad = in.original;
        bad(0, 1, 2, 3) = std::nanf("");
        CHECK_THROWS_WITH_AS(
            field::tiled_field(model, layout, canvas, policy::strength{}, options_for(sigmas), bad.cview()),
            doctest::Contains("must be finite"), invalid_argument);
    }
    SUBCASE("a model that returns NaN names the tile and the step") {
        auto broken =
            model::make_model(prediction::kind::flow_velocity, [](const model::batch_request& r, mutable_view out) {
                for (std::int64_t b = 0; b < out.shape().n; ++b)
                    for (std::int64_t c = 0; c < out.shape().c; ++c)
                        for (std::int64_t y = 0; y < out.shape().h; ++y)
                            for (std::int64_t x = 0; x < out.shape().w; ++x)
                                out(b, c, y, x) = r.tiles[b].id == 3 && r.step == 2 ? std::nanf("") : 0.0f;
            });
        field::tiled_field f(broken, layout, canvas, policy::scale{}, options_for(sigmas));
        host_tensor x = in.noise;
        sampler::euler s;
        std::string message;
        try {
            sampler::sample(s, f, x.view(), sigmas);
        } catch (const model_error& e) {
            message = e.what();
        }
        CHECK(message.find("at step 2, sigma 0.") != std::string::npos);
        CHECK(message.find("in tile 3 (x=8, y=8, w=8, h=8)") != std::string::npos);
    }
    SUBCASE("a model that throws aborts the run with its exception") {
        auto throwing = model::make_model(
            prediction::kind::flow_velocity,
            [](const model::batch_request&, mutable_view) { throw std::runtime_error("out of VRAM"); });
        field::tiled_field f(throwing, layout, canvas, policy::scale{}, options_for(sigmas));
        host_tensor x = in.noise;
        sampler::euler s;
        CHECK_THROWS_WITH_AS(sampler::sample(s, f, x.view(), sigmas), "out of VRAM", std::runtime_error);
    }
    SUBCASE("evaluating without a step index") {
        field::tiled_field f(model, layout, canvas, policy::scale{}, options_for(sigmas));
        host_tensor x = in.noise, v(canvas);
        CHECK_THROWS_WITH_AS(f(x.cview(), 0.5, v.view()), doctest::Contains("on_step"), error);
    }
    SUBCASE("zero threads") {
        auto o = options_for(sigmas);
        o.threads = 0;
        CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, canvas, policy::scale{}, o),
                             doctest::Contains("threads = 0"), invalid_argument);
    }
    SUBCASE("the strength policy without a schedule") {
        field::field_options o;
        CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, canvas, policy::strength{}, o, in.original.cview()),
                             doctest::Contains("field_options.sigmas.size() = 0"), invalid_argument);
    }
}

namespace {

/// out = a(id) * in + b(id): a tile-dependent model, so that a blend that mixes up tiles shows.
struct affine_tile_model {
    prediction::kind kind = prediction::kind::flow_velocity;
    prediction::kind prediction_kind() const { return kind; }
    static float a(std::int64_t id) { return 0.5f + 0.1f * float(id % 5); }
    static float b(std::int64_t id) { return 0.05f * float(id % 3) - 0.05f; }
    void operator()(const model::batch_request& r, mutable_view out) const {
        const auto& s = r.x.shape();
        for (std::int64_t n = 0; n < s.n; ++n) {
            const std::int64_t id = r.tiles[static_cast<std::size_t>(n)].id;
            for (std::int64_t c = 0; c < s.c; ++c)
                for (std::int64_t y = 0; y < s.h; ++y)
                    for (std::int64_t x = 0; x < s.w; ++x) out(n, c, y, x) = a(id) * r.x(n, c, y, x) + b(id);
        }
    }
};

/// The blend by its definition, in double: per pixel, sum over covering tiles of w * v over sum of w, where
/// w is the separable weight and v the policy's velocity on the model's prediction for the reflected tile.
template <class Policy>
host_tensor reference_blend(const tile::layout& l, const host_tensor& x, const host_tensor& original, Policy policy,
                            prediction::kind kind, double sigma, blend::weight_params weights) {
    const shape4 s = x.shape();
    std::vector<double> sum(static_cast<std::size_t>(s.numel()), 0.0), weight(static_cast<std::size_t>(s.h * s.w), 0.0);
    for (const tile::layout_tile& t : l.tiles) {
        policy::tile_context ctx;
        ctx.strength = static_cast<float>(t.strength);
        ctx.sigma = static_cast<float>(sigma);
        ctx.min_pixel_side = std::min(t.pixel_core.w, t.pixel_core.h);
        const bool model = policy.needs_model(ctx);
        for (std::int64_t y = std::max<std::int64_t>(t.padded.y, 0); y < std::min(t.padded.bottom(), s.h); ++y)
            for (std::int64_t px = std::max<std::int64_t>(t.padded.x, 0); px < std::min(t.padded.right(), s.w); ++px) {
                const double w = double(blend::axis_weight(weights, y - t.padded.y, t.padded.h, t.overlap_top(),
                                                           t.overlap_bottom())) *
                                 double(blend::axis_weight(weights, px - t.padded.x, t.padded.w, t.overlap_left(),
                                                           t.overlap_right()));
                weight[static_cast<std::size_t>(y * s.w + px)] += w;
                for (std::int64_t c = 0; c < s.c; ++c) {
                    const float in = x(0, c, y, px);  // the tile's input at an in-canvas pixel is x there
                    const float out = affine_tile_model::a(t.id) * in + affine_tile_model::b(t.id);
                    const float vm =
                        model ? prediction::to_flow_velocity(kind, out, in, static_cast<float>(sigma)) : 0.0f;
                    const policy::element e{vm, in, original(0, c, y, px), ctx.strength};
                    sum[static_cast<std::size_t>((c * s.h + y) * s.w + px)] += w * double(policy.velocity(ctx, e));
                }
            }
    }
    host_tensor v(s);
    for (std::int64_t c = 0; c < s.c; ++c)
        for (std::int64_t i = 0; i < s.h * s.w; ++i)
            v.span()[static_cast<std::size_t>(c * s.h * s.w + i)] = static_cast<float>(
                sum[static_cast<std::size_t>(c * s.h * s.w + i)] / weight[static_cast<std::size_t>(i)]);
    return v;
}

}  // namespace

TEST_CASE("one evaluation equals the blend's definition, for every layout, policy, kind, chunking and thread count") {
    // A quadtree with overlap (several padded shapes, reflection at the edges), a grid, uneven hand-made tiles.
    std::vector<tile::layout> layouts = {fixtures::small_quadtree(),
                                         tile::build_grid(40, 24, tile::grid_options{16, 5, 1, 1.0})};
    tile::layout uneven = grid_layout(3, 2, 6, 2, {0.3, 0.9, 0.6});
    uneven.tiles[4].padded = rect{4, 4, 12, 8};
    layouts.push_back(uneven);
    for (tile::layout& l : layouts)
        for (tile::layout_tile& t : l.tiles) t.strength = 0.1 + 0.8 * double((t.id * 7) % 10) / 9.0;
    const double sigma = 0.6;
    const auto weights = blend::weight_params{blend::weight_kind::gaussian, 0.01f};
    for (const tile::layout& l : layouts) {
        CAPTURE(l.tiles.size());
        const shape4 shape{1, 3, l.height, l.width};
        const host_tensor x = wavy(shape, 1.0f, 0.7f), original = wavy(shape, 0.5f, 1.9f);
        policy::skip skip;
        skip.strength_at_most = 0.4f;
        for (const prediction::kind kind : {prediction::kind::flow_velocity, prediction::kind::denoised})
            for (const std::int64_t arena : {std::int64_t{1} << 20, std::int64_t{300}})
                for (const int threads : {1, 2}) {
                    CAPTURE(static_cast<int>(kind));
                    CAPTURE(arena);
                    CAPTURE(threads);
                    field::field_options o;
                    o.weights = weights;
                    o.arena_elements = arena;
                    o.threads = threads;
                    o.tile_batch_size = 3;
                    affine_tile_model model{kind};
                    auto check = [&](auto policy) {
                        field::tiled_field f(model, l, shape, policy, o, original.cview());
                        f.on_step(0, sigma, 0.3);
                        host_tensor v(shape);
                        f(x.cview(), sigma, v.view());
                        const host_tensor expected = reference_blend(l, x, original, policy, kind, sigma, weights);
                        double worst = 0;
                        for (std::int64_t i = 0; i < v.numel(); ++i)
                            worst = std::max(worst, double(std::abs(v.span()[i] - expected.span()[i])) /
                                                        (1.0 + std::abs(double(expected.span()[i]))));
                        CHECK(worst < 5e-7);  // measured up to 6e-8
                    };
                    check(policy::scale{});
                    check(skip);
                }
    }
}
