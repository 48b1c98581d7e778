// Tests of the velocity policies on the tiled field (the measured properties of issue 4), and of the blend plan.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "quadflow/field/blend_plan.hpp"
#include "quadflow/field/canvas_field.hpp"
#include "quadflow/metrics/metrics.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/sampler/dpmpp_2m.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/heun.hpp"
#include "quadflow/schedule/comfy.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/tile/grid.hpp"
#include "tiled_runs.hpp"

using namespace quadflow;
using namespace fixtures;  // the grid layouts, canvas, inputs and run_tiled of tiled_runs.hpp

TEST_CASE("scale with d = 0 freezes the tile in its starting noisy state (the seed's bug)") {
    const inputs in;
    const auto layout = grid_layout(2, 2, 8, 0, {0.0});
    const auto sigmas = uniform_from(0.6, 10);
    host_tensor start(canvas);
    sampler::noised_original(in.original.cview(), in.noise.cview(), sigmas.front(), start.view());
    field::field_stats stats;
    const host_tensor final = run_tiled<sampler::euler>(layout, policy::scale{}, sigmas, in.original, in.noise,
                                                        in.target, 0.1, options_for(sigmas), &stats);
    for (std::int64_t i = 0; i < final.numel(); ++i) CHECK(final.span()[i] == start.span()[i]);
    CHECK(stats.model_calls == 0);  // d = 0 needs no model output
    const double error =
        metrics::tile_region_error(final.cview(), in.original.cview(), layout, [](const tile::layout_tile&) {
            return true;
        }).mean;
    CHECK(error > 0.1);  // still noisy: "underdeveloped"
}

TEST_CASE("naive preservation leaves prod(1 - dsigma) = 0.975^20 of the starting error") {
    const inputs in;
    const auto layout = grid_layout(2, 2, 8, 2, {0.0});
    const auto sigmas = uniform_from(0.5, 20);
    host_tensor start(canvas);
    sampler::noised_original(in.original.cview(), in.noise.cview(), 0.5, start.view());
    const host_tensor final =
        run_tiled<sampler::euler>(layout, policy::preservation_blend{policy::preservation::naive, 0.7f}, sigmas,
                                  in.original, in.noise, in.target, 0.1, options_for(sigmas));
    double left = 0, began = 0;
    for (std::int64_t i = 0; i < final.numel(); ++i) {
        left += std::abs(double(final.span()[i]) - in.original.span()[i]);
        began += std::abs(double(start.span()[i]) - in.original.span()[i]);
    }
    CHECK(left / began == doctest::Approx(std::pow(0.975, 20)).epsilon(1e-6));
    CHECK(std::pow(0.975, 20) == doctest::Approx(0.6027).epsilon(1e-4));
}

TEST_CASE("exact preservation and skip land on the original for Euler, Heun and DPM++ 2M") {
    const inputs in;
    // Left column preserved (d = 0), right column regenerated (d = 1); no overlap so cores are pure.
    const auto layout = grid_layout(2, 2, 8, 0, {0.0, 1.0});
    const auto sigmas = schedule::flux(12, 512, 512);
    auto preserved = [](const tile::layout_tile& t) { return t.strength == 0.0; };
    auto check_all = [&](auto policy, const char* name) {
        CAPTURE(name);
        const host_tensor e = run_tiled<sampler::euler>(layout, policy, sigmas, in.original, in.noise, in.target, 0.1,
                                                        options_for(sigmas));
        const host_tensor h = run_tiled<sampler::heun>(layout, policy, sigmas, in.original, in.noise, in.target, 0.1,
                                                       options_for(sigmas));
        const host_tensor d = run_tiled<sampler::dpmpp_2m>(layout, policy, sigmas, in.original, in.noise, in.target,
                                                           0.1, options_for(sigmas));
        for (const host_tensor* r : {&e, &h, &d}) {
            CHECK(metrics::tile_region_error(r->cview(), in.original.cview(), layout, preserved).max <= 1e-5);
            // The regenerated half moved toward the prompt target, away from the original.
            CHECK(metrics::tile_region_error(r->cview(), in.original.cview(), layout, [](const tile::layout_tile& t) {
                      return t.strength == 1.0;
                  }).mean > 0.3);
        }
    };
    check_all(policy::preservation_blend{policy::preservation::exact, 0.7f}, "preservation_blend exact");
    check_all(policy::skip{policy::preservation::exact, 0, 0.0f}, "skip d <= 0");
    check_all(policy::strength{}, "strength");
}

TEST_CASE("strength: a one-tile layout equals a plain img2img run of that strength, under each rule") {
    const inputs in;
    auto one_tile = [](double d) {
        tile::layout l = grid_layout(1, 1, 16, 0, {d});
        return l;
    };
    for (auto rule : {schedule::strength_rule::diffusers, schedule::strength_rule::bfl, schedule::strength_rule::sdcpp,
                      schedule::strength_rule::comfy}) {
        for (double d : {0.3, 0.5, 0.8}) {
            CAPTURE(schedule::to_string(rule));
            CAPTURE(d);
            const std::vector<double> full =
                rule == schedule::strength_rule::comfy ? schedule::comfy_simple(20) : schedule::flux(20, 1024, 1024);
            // The plain run: the engine's own img2img schedule, started from the noised original.
            const std::vector<double> plain_sigmas =
                rule == schedule::strength_rule::comfy
                    ? schedule::comfy_denoise([](int n) { return schedule::comfy_simple(n); },
                                              static_cast<int>(std::lround(d * 20)), d)
                    : schedule::img2img_sigmas(full, d, rule);
            if (rule == schedule::strength_rule::comfy && d == 0.3) continue;  // int(6 / 0.3) = 19: not a suffix
            const std::vector<double> tail(full.end() - static_cast<std::ptrdiff_t>(plain_sigmas.size()), full.end());
            REQUIRE(tail == plain_sigmas);

            model::gaussian_model plain_model(in.target.cview(), 0.2);
            field::canvas_field plain_field(plain_model);
            host_tensor plain(canvas);
            sampler::noised_original(in.original.cview(), in.noise.cview(), plain_sigmas.front(), plain.view());
            sampler::euler euler;
            sampler::sample(euler, plain_field, plain.view(), plain_sigmas);

            field::field_stats stats;
            const host_tensor tiled =
                run_tiled<sampler::euler>(one_tile(d), policy::strength{}, full, in.original, in.noise, in.target, 0.2,
                                          options_for(full, blend::weight_kind::uniform, 4, rule), &stats);
            double worst = 0;
            for (std::int64_t i = 0; i < plain.numel(); ++i)
                worst = std::max(worst, std::abs(double(plain.span()[i]) - tiled.span()[i]));
            CHECK(worst <= 1e-6);
            CHECK(stats.model_calls == static_cast<std::int64_t>(plain_sigmas.size()) - 1);
        }
    }
}

TEST_CASE("blend plan and sum starts: normalised weights sum to 1, and each pixel's sum starts exactly once") {
    // Layouts with reflection (padding outside the canvas), uneven overlaps and several padded shapes.
    std::vector<tile::layout> layouts = {grid_layout(4, 3, 4, 2, {1.0}), grid_layout(5, 2, 3, 1, {1.0})};
    layouts.push_back(tile::build_grid(40, 24, tile::grid_options{16, 5}));
    tile::layout mixed = grid_layout(2, 2, 8, 3, {1.0});
    mixed.tiles[3].padded = rect{5, 5, 11, 11};  // a different padded shape: another batching group
    layouts.push_back(mixed);
    for (const tile::layout& l : layouts) {
        CAPTURE(l.tiles.size());
        const field::blend_plan plan(l, blend::weight_params{blend::weight_kind::gaussian, 0.01f});
        std::vector<double> weight_sum(static_cast<std::size_t>(l.width * l.height), 0.0);
        std::vector<std::int64_t> order;
        for (const field::shape_batch& g : field::make_shape_batches(l, 1 << 30))
            order.insert(order.end(), g.tiles.begin(), g.tiles.end());
        const field::sum_starts starts(l, order);
        std::vector<int> started(weight_sum.size(), 0);
        std::vector<char> reached(weight_sum.size(), 0);
        bool first_tile_starts = true;
        for (std::int64_t t : order) {
            const tile::layout_tile& tl = l.tiles[static_cast<std::size_t>(t)];
            const rect in = clipped(tl.padded, l.width, l.height);
            const float* w = plan.normalized_weights(static_cast<std::size_t>(t));
            for (std::int64_t y = in.y; y < in.bottom(); ++y) {
                for (std::int64_t x = in.x; x < in.right(); ++x)
                    weight_sum[static_cast<std::size_t>(y * l.width + x)] += w[(y - in.y) * in.w + (x - in.x)];
                for (const field::column_run& r : starts.row(static_cast<std::size_t>(t), tl.padded, y))
                    for (std::int64_t x = r.begin; x < r.end; ++x) {
                        const auto p = static_cast<std::size_t>(y * l.width + x);
                        ++started[p];
                        first_tile_starts = first_tile_starts && !reached[p] && x >= in.x && x < in.right();
                    }
                for (std::int64_t x = in.x; x < in.right(); ++x) reached[static_cast<std::size_t>(y * l.width + x)] = 1;
            }
        }
        CHECK(first_tile_starts);
        CHECK(std::all_of(started.begin(), started.end(), [](int s) { return s == 1; }));
        double worst = 0;
        for (double s : weight_sum) worst = std::max(worst, std::abs(s - 1.0));
        CHECK(worst < 1e-6);
    }
}
