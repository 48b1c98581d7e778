// Tests of policy/strength_map.hpp: painting a layout's strengths and the slope limit, and what the limit saves the
// mask policy.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "field_fixtures.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/model/gaussian_model.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/policy/strength_map.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/img2img.hpp"
#include "quadflow/sampler/sample.hpp"
#include "quadflow/schedule/flux.hpp"

using namespace quadflow;
using fixtures::grid_layout;
using fixtures::wavy;

namespace {

constexpr float tolerance = 1e-6f;

host_tensor from_rows(const std::vector<std::vector<float>>& rows) {
    host_tensor t(shape4{1, 1, static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(rows[0].size())});
    for (std::size_t y = 0; y < rows.size(); ++y)
        for (std::size_t x = 0; x < rows[y].size(); ++x)
            t(0, 0, static_cast<std::int64_t>(y), static_cast<std::int64_t>(x)) = rows[y][x];
    return t;
}

/// s(p) = min_q d(q) + slope * chebyshev(p, q), by brute force.
host_tensor brute_force(const host_tensor& d, double slope) {
    const shape4 s = d.shape();
    host_tensor out(s);
    for (std::int64_t y = 0; y < s.h; ++y)
        for (std::int64_t x = 0; x < s.w; ++x) {
            double best = std::numeric_limits<double>::infinity();
            for (std::int64_t qy = 0; qy < s.h; ++qy)
                for (std::int64_t qx = 0; qx < s.w; ++qx)
                    best =
                        std::min(best, d(0, 0, qy, qx) + slope * double(std::max(std::abs(qy - y), std::abs(qx - x))));
            out(0, 0, y, x) = static_cast<float>(best);
        }
    return out;
}

/// Checks s <= d everywhere and |s(p) - s(q)| <= slope for all 8 neighbours.
void check_limited(const host_tensor& d, const host_tensor& s, double slope) {
    const shape4 sh = d.shape();
    REQUIRE(s.shape() == sh);
    for (std::int64_t n = 0; n < sh.n; ++n)
        for (std::int64_t y = 0; y < sh.h; ++y)
            for (std::int64_t x = 0; x < sh.w; ++x) {
                CHECK(s(n, 0, y, x) <= d(n, 0, y, x));
                for (std::int64_t dy = -1; dy <= 1; ++dy)
                    for (std::int64_t dx = -1; dx <= 1; ++dx) {
                        const std::int64_t qy = y + dy, qx = x + dx;
                        if (qy < 0 || qy >= sh.h || qx < 0 || qx >= sh.w) continue;
                        CHECK(std::abs(s(n, 0, y, x) - s(n, 0, qy, qx)) <= static_cast<float>(slope) + tolerance);
                    }
            }
}

}  // namespace

TEST_CASE("paint_strength_map paints each tile's core with its denoise") {
    const auto layout = grid_layout(2, 2, 3, 1, {0.2, 0.8, 0.5, 0.0});
    const host_tensor map = policy::paint_strength_map(layout);
    CHECK(map.shape() == shape4{1, 1, 6, 6});
    for (const tile::layout_tile& t : layout.tiles)
        for (std::int64_t y = t.core.y; y < t.core.bottom(); ++y)
            for (std::int64_t x = t.core.x; x < t.core.right(); ++x)
                CHECK(map(0, 0, y, x) == static_cast<float>(t.strength));
}

TEST_CASE("a 1-D step from 0.2 to 0.8 at slope 0.1 ramps over 6 px on the high side") {
    const host_tensor d = from_rows({{0.2f, 0.2f, 0.2f, 0.8f, 0.8f, 0.8f, 0.8f, 0.8f, 0.8f, 0.8f, 0.8f}});
    const host_tensor s = policy::slope_limited(d.cview(), 0.1);
    const std::vector<float> expected{0.2f, 0.2f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.8f, 0.8f};
    for (std::int64_t x = 0; x < 11; ++x) {
        CAPTURE(x);
        CHECK(s(0, 0, 0, x) == doctest::Approx(expected[static_cast<std::size_t>(x)]).epsilon(1e-5));
    }
    // The same step as a column of a 2-D map ramps the same way.
    host_tensor column(shape4{1, 1, 11, 3});
    for (std::int64_t y = 0; y < 11; ++y)
        for (std::int64_t x = 0; x < 3; ++x) column(0, 0, y, x) = d(0, 0, 0, y);
    const host_tensor sc = policy::slope_limited(column.cview(), 0.1);
    for (std::int64_t y = 0; y < 11; ++y)
        for (std::int64_t x = 0; x < 3; ++x)
            CHECK(sc(0, 0, y, x) == doctest::Approx(expected[static_cast<std::size_t>(y)]).epsilon(1e-5));
}

TEST_CASE("a map that is already slope-Lipschitz is unchanged") {
    const host_tensor constant(shape4{1, 1, 7, 9}, 0.6f);
    const host_tensor s = policy::slope_limited(constant.cview(), 0.05);
    for (std::int64_t i = 0; i < s.numel(); ++i) CHECK(s.span()[i] == 0.6f);
    // A ramp of 0.04 per px in x and 0.03 in y: diagonal neighbours differ by 0.07.
    host_tensor ramp(shape4{1, 1, 6, 8});
    for (std::int64_t y = 0; y < 6; ++y)
        for (std::int64_t x = 0; x < 8; ++x) ramp(0, 0, y, x) = 0.1f + 0.04f * float(x) + 0.03f * float(y);
    const host_tensor r = policy::slope_limited(ramp.cview(), 0.05);
    check_limited(ramp, r, 0.05);  // 0.07 > 0.05: lowered
    CHECK(r(0, 0, 5, 7) < ramp(0, 0, 5, 7));
    const host_tensor gentle = policy::slope_limited(ramp.cview(), 0.08);
    for (std::int64_t i = 0; i < ramp.numel(); ++i) CHECK(gentle.span()[i] == ramp.span()[i]);
    const host_tensor unlimited = policy::slope_limited(ramp.cview(), std::numeric_limits<double>::infinity());
    for (std::int64_t i = 0; i < ramp.numel(); ++i) CHECK(unlimited.span()[i] == ramp.span()[i]);
}

TEST_CASE("slope_limited equals the brute-force min over pixels, is below the map and slope-Lipschitz") {
    const host_tensor noise = wavy(shape4{1, 1, 13, 17}, 0.5f, 0.9f);
    host_tensor d(noise.shape());
    for (std::int64_t i = 0; i < d.numel(); ++i) d.span()[i] = 0.5f + noise.span()[i];
    for (double slope : {0.02, 0.1, 0.3}) {
        CAPTURE(slope);
        const host_tensor s = policy::slope_limited(d.cview(), slope);
        check_limited(d, s, slope);
        const host_tensor exact = brute_force(d, slope);
        for (std::int64_t i = 0; i < d.numel(); ++i)
            CHECK(s.span()[i] == doctest::Approx(exact.span()[i]).epsilon(1e-5));
    }
    // A painted quadtree-like layout, and a batch of two maps limited independently.
    const auto layout = grid_layout(4, 3, 5, 0, {0.2, 0.8, 0.35, 0.6, 0.0});
    const host_tensor painted = policy::paint_strength_map(layout);
    check_limited(painted, policy::slope_limited(painted.cview(), 0.1), 0.1);
    host_tensor two(shape4{2, 1, 15, 20});
    for (std::int64_t i = 0; i < painted.numel(); ++i) {
        two.span()[static_cast<std::size_t>(i)] = painted.span()[static_cast<std::size_t>(i)];
        two.span()[static_cast<std::size_t>(i + painted.numel())] = 0.7f;
    }
    const host_tensor s2 = policy::slope_limited(two.cview(), 0.1);
    check_limited(two, s2, 0.1);
    for (std::int64_t i = 0; i < painted.numel(); ++i)
        CHECK(s2.span()[static_cast<std::size_t>(i + painted.numel())] == 0.7f);
}

TEST_CASE("slope_limited rejects a slope <= 0 or NaN, naming slope and its value") {
    const host_tensor d(shape4{1, 1, 4, 4}, 0.5f);
    CHECK_THROWS_WITH_AS(policy::slope_limited(d.cview(), 0.0), "slope = 0: must be > 0 (strength per latent pixel)",
                         quadflow::invalid_argument);
    CHECK_THROWS_WITH_AS(policy::slope_limited(d.cview(), -0.1),
                         "slope = -0.1: must be > 0 (strength per latent pixel)", quadflow::invalid_argument);
    try {
        (void)policy::slope_limited(d.cview(), std::nan(""));
        FAIL("no exception");
    } catch (const quadflow::invalid_argument& e) {
        CHECK(e.parameter() == "slope");
        CHECK(e.value() == "nan");
    }
    const host_tensor channels(shape4{1, 2, 4, 4}, 0.5f);
    CHECK_THROWS_AS(policy::slope_limited(channels.cview(), 0.1), quadflow::shape_error);
}

TEST_CASE("with the mask policy the slope-limited map sends no more tile-pixels to the model than the painted one") {
    constexpr shape4 canvas{1, 3, 16, 16};
    const host_tensor original = wavy(canvas, 1.0f, 0.3f);
    const host_tensor noise = wavy(canvas, 1.5f, 1.7f);
    const host_tensor target = wavy(canvas, 0.8f, 2.9f);
    const std::vector<double> sigmas = schedule::flux(12, 512, 512);
    auto tile_pixels = [&](const tile::layout& layout, const host_tensor& map) {
        model::gaussian_model model(target.cview(), 0.1);
        field::field_options o;
        o.sigmas = sigmas;
        field::tiled_field f(model, layout, canvas, policy::mask{}, o, original.cview(), map.cview());
        host_tensor x(canvas);
        sampler::noised_original(original.cview(), noise.cview(), sigmas.front(), x.view());
        sampler::euler euler;
        sampler::sample(euler, f, x.view(), sigmas);
        return f.stats().tile_pixels;
    };
    for (std::int64_t overlap : {0, 2}) {
        CAPTURE(overlap);
        const auto layout = grid_layout(4, 4, 4, overlap, {0.1, 0.9, 0.4, 0.7, 0.2});
        const host_tensor painted = policy::paint_strength_map(layout);
        const std::int64_t unlimited = tile_pixels(layout, painted);
        for (double slope : {0.05, 0.1, 0.2}) {
            CAPTURE(slope);
            const std::int64_t limited = tile_pixels(layout, policy::slope_limited(painted.cview(), slope));
            CHECK(limited <= unlimited);
            if (slope == 0.05) CHECK(limited < unlimited);  // strong limit: the 0.9 and 0.7 tiles are lowered
        }
    }
}
