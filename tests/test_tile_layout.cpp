// Tests of tile layouts, blend weights, RGB image views and batching: validate() failures, weight formulas
// and positivity on every layout kind, batch grouping and limits.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "quadflow/blend/weights.hpp"
#include "quadflow/field/shape_batches.hpp"
#include "quadflow/tile/tile.hpp"

using quadflow::invalid_argument;
using quadflow::rect;
using namespace quadflow::tile;
using namespace quadflow::blend;
using namespace quadflow::field;

namespace {

/// A tile with the given rectangles and denoise; id set by the caller's order.
layout_tile make_tile(rect core, rect padded, double denoise = 1.0) {
    layout_tile t;
    t.core = core;
    t.padded = padded;
    t.strength = denoise;
    return t;
}

layout make_layout(std::int64_t width, std::int64_t height, std::vector<layout_tile> tiles) {
    layout l;
    l.width = width;
    l.height = height;
    for (std::size_t i = 0; i < tiles.size(); ++i) tiles[i].id = static_cast<std::int64_t>(i);
    l.tiles = std::move(tiles);
    return l;
}

/// Weights are > 0 on every tile's whole padded rectangle and their sum is > 0 on every canvas pixel.
void check_weights_cover(const layout& l, const weight_params& params) {
    std::vector<double> total(static_cast<std::size_t>(l.width * l.height), 0.0);
    bool all_positive = true;
    for (const auto& t : l.tiles)
        for (std::int64_t y = 0; y < t.padded.h; ++y)
            for (std::int64_t x = 0; x < t.padded.w; ++x) {
                const float w = tile_weight(params, t, y, x);
                all_positive = all_positive && w > 0.0f && std::isfinite(w);
                const std::int64_t cx = t.padded.x + x, cy = t.padded.y + y;
                if (cx >= 0 && cy >= 0 && cx < l.width && cy < l.height)
                    total[static_cast<std::size_t>(cy * l.width + cx)] += w;
            }
    CHECK(all_positive);
    CHECK(std::all_of(total.begin(), total.end(), [](double w) { return w > 0.0; }));
}

}  // namespace

TEST_CASE("validate() accepts a covering layout and names what is wrong otherwise") {
    // Two 4x4 cores side by side on an 8x4 canvas.
    const layout good =
        make_layout(8, 4, {make_tile({0, 0, 4, 4}, {0, 0, 4, 4}), make_tile({4, 0, 4, 4}, {4, 0, 4, 4})});
    validate(good);

    SUBCASE("an uncovered pixel") {
        const layout gap =
            make_layout(8, 4, {make_tile({0, 0, 4, 4}, {0, 0, 4, 4}), make_tile({5, 0, 3, 4}, {5, 0, 3, 4})});
        CHECK_THROWS_WITH_AS(validate(gap), doctest::Contains("layout = pixel (x=4, y=0)"), invalid_argument);
    }
    SUBCASE("a tile outside the canvas") {
        const layout outside =
            make_layout(8, 4, {make_tile({0, 0, 4, 4}, {0, 0, 4, 4}), make_tile({4, 0, 5, 4}, {4, 0, 5, 4})});
        CHECK_THROWS_WITH_AS(validate(outside), doctest::Contains("layout.tiles[1].core = (x=4, y=0, w=5, h=4)"),
                             invalid_argument);
    }
    SUBCASE("denoise 1.5") {
        const layout strong =
            make_layout(8, 4, {make_tile({0, 0, 4, 4}, {0, 0, 4, 4}, 1.5), make_tile({4, 0, 4, 4}, {4, 0, 4, 4})});
        CHECK_THROWS_WITH_AS(validate(strong), doctest::Contains("layout.tiles[0].strength = 1.5"), invalid_argument);
    }
    SUBCASE("a padded rectangle that does not contain its core") {
        const layout shrunk =
            make_layout(8, 4, {make_tile({0, 0, 4, 4}, {1, 0, 3, 4}), make_tile({4, 0, 4, 4}, {0, 0, 8, 4})});
        CHECK_THROWS_WITH_AS(validate(shrunk), doctest::Contains("layout.tiles[0].padded = (x=1, y=0, w=3, h=4)"),
                             invalid_argument);
    }
}

TEST_CASE("RGB image views reject null data, empty sizes and short rows") {
    const std::vector<std::uint8_t> bytes(48, 0);
    validate(packed_rgb_view(bytes.data(), 4, 4));
    CHECK_THROWS_WITH_AS(validate(rgb_image_view{nullptr, 4, 4, 12}), doctest::Contains("image.data = nullptr"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(validate(rgb_image_view{bytes.data(), 0, 4, 12}), doctest::Contains("image.width = 0"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(validate(rgb_image_view{bytes.data(), 4, -2, 12}), doctest::Contains("image.height = -2"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(validate(rgb_image_view{bytes.data(), 4, 4, 11}), doctest::Contains("image.row_stride = 11"),
                         invalid_argument);
}

TEST_CASE("weight kind names round-trip; a bad name or variance is an error") {
    for (weight_kind k : {weight_kind::uniform, weight_kind::gaussian, weight_kind::smootherstep})
        CHECK(parse_weight_kind(to_string(k)) == k);
    CHECK_THROWS_WITH_AS(parse_weight_kind("box"), doctest::Contains("weights = box"), invalid_argument);
    CHECK_THROWS_WITH_AS(validate(weight_params{weight_kind::gaussian, 0.0f}),
                         doctest::Contains("weights.variance = 0"), invalid_argument);
    validate(weight_params{});
}

TEST_CASE("Gaussian weights follow Mixture of Diffusers' formula over each axis's own size") {
    // w(i) = exp(-(i - (W-1)/2)^2 / (2 * variance * W^2)).
    auto reference = [](std::int64_t i, std::int64_t extent, double variance) {
        const double d = static_cast<double>(i) - (static_cast<double>(extent) - 1.0) / 2.0;
        return std::exp(-d * d / (2.0 * variance * static_cast<double>(extent * extent)));
    };
    for (std::int64_t extent : {1, 2, 7, 8, 96}) {
        for (std::int64_t i = 0; i < extent; ++i) {
            CHECK(gaussian_axis_weight(i, extent, 0.01f) == doctest::Approx(reference(i, extent, 0.01)).epsilon(1e-5));
            CHECK(gaussian_axis_weight(i, extent, 0.02f) == doctest::Approx(reference(i, extent, 0.02)).epsilon(1e-5));
            CHECK(gaussian_axis_weight(i, extent, 0.01f) == gaussian_axis_weight(extent - 1 - i, extent, 0.01f));
        }
    }
    // A 32 wide, 8 tall tile: rows use 8, columns 32 (the ComfyUI port would use 32 for both).
    const layout_tile t = make_tile({0, 0, 32, 8}, {0, 0, 32, 8});
    const weight_params gaussian{weight_kind::gaussian, 0.01f};
    CHECK(tile_weight(gaussian, t, 0, 16) ==
          doctest::Approx(reference(0, 8, 0.01) * reference(16, 32, 0.01)).epsilon(1e-5));
    CHECK(tile_weight(gaussian, t, 0, 16) != doctest::Approx(reference(0, 32, 0.01) * reference(16, 32, 0.01)));
    // Tiny variances stay positive: each axis factor is floored so the product remains a normal float.
    CHECK(gaussian_axis_weight(0, 96, 1e-5f) == min_axis_weight);
    CHECK(tile_weight(weight_params{weight_kind::gaussian, 1e-5f}, make_tile({0, 0, 96, 96}, {0, 0, 96, 96}), 0, 0) >
          0.0f);
}

TEST_CASE("smootherstep weights ramp over the padding and are 1 on the core") {
    CHECK(smootherstep(0.0f) == 0.0f);
    CHECK(smootherstep(1.0f) == 1.0f);
    CHECK(smootherstep(0.5f) == doctest::Approx(0.5));
    auto s = [](double t) { return t * t * t * (t * (6.0 * t - 15.0) + 10.0); };
    // Extent 10, 2 pixels of padding before, 3 after: s(1/3), s(2/3), 1 x 5, s(3/4), s(2/4), s(1/4).
    const std::vector<double> expected{s(1.0 / 3), s(2.0 / 3), 1, 1, 1, 1, 1, s(3.0 / 4), s(2.0 / 4), s(1.0 / 4)};
    for (std::int64_t i = 0; i < 10; ++i)
        CHECK(smootherstep_axis_weight(i, 10, 2, 3) ==
              doctest::Approx(expected[static_cast<std::size_t>(i)]).epsilon(1e-6));
    // No padding: 1 everywhere.
    for (std::int64_t i = 0; i < 5; ++i) CHECK(smootherstep_axis_weight(i, 5, 0, 0) == 1.0f);
    // Through tile_weight, with the tile's own overlaps on each side.
    const layout_tile t = make_tile({2, 1, 4, 4}, {0, 0, 9, 6});  // left 2, right 3, top 1, bottom 1
    const weight_params smooth{weight_kind::smootherstep};
    CHECK(tile_weight(smooth, t, 0, 0) == doctest::Approx(s(1.0 / 2) * s(1.0 / 3)).epsilon(1e-6));
    CHECK(tile_weight(smooth, t, 3, 4) == 1.0f);
    CHECK(tile_weight(smooth, t, 5, 8) == doctest::Approx(s(1.0 / 2) * s(1.0 / 4)).epsilon(1e-6));
    CHECK(tile_weight(weight_params{weight_kind::uniform}, t, 5, 8) == 1.0f);
}

TEST_CASE("every weight kind is positive on every tile and sums to > 0 on every pixel of every layout kind") {
    // A quadtree with overlap: a 64x48 image with a detailed region.
    std::vector<std::uint8_t> bytes(64 * 48 * 3, 90);
    for (std::int64_t y = 0; y < 24; ++y)
        for (std::int64_t x = 0; x < 24; ++x)
            bytes[static_cast<std::size_t>((y * 64 + x) * 3)] = static_cast<std::uint8_t>((x * 37 + y * 91) % 256);
    quadtree_options q;
    q.overlap_pixels = 16;
    const layout quad = build_quadtree(packed_rgb_view(bytes.data(), 64, 48), q);
    grid_options g;
    g.tile = 12;
    g.overlap_latent = 3;
    const layout grid = build_grid(40, 30, g);
    const layout spot = build_spot(40, 30, 12, 3, 10, 7, spot_shift::fibonacci, 8);
    REQUIRE(quad.tiles.size() > 4);
    for (const layout* l : {&quad, &grid, &spot})
        for (const weight_params& p :
             {weight_params{weight_kind::uniform}, weight_params{weight_kind::gaussian, 0.01f},
              weight_params{weight_kind::gaussian, 0.02f}, weight_params{weight_kind::smootherstep}})
            check_weights_cover(*l, p);
}

TEST_CASE("batching groups equal padded shapes, keeps the order and respects the batch size") {
    // Shapes by index: A B A A C B A with A = 4x4, B = 6x4, C = 4x6.
    const rect a{0, 0, 4, 4}, b{0, 0, 6, 4}, c{0, 0, 4, 6};
    std::vector<layout_tile> tiles;
    for (const rect& r : {a, b, a, a, c, b, a}) tiles.push_back(make_tile(r, r));
    const layout l = make_layout(8, 8, tiles);

    SUBCASE("size 2: A -> [0 2] [3 6], then B -> [1 5], then C -> [4]") {
        const auto batches = make_shape_batches(l, 2);
        REQUIRE(batches.size() == 4);
        CHECK(batches[0].tiles == std::vector<std::int64_t>{0, 2});
        CHECK(batches[1].tiles == std::vector<std::int64_t>{3, 6});
        CHECK(batches[2].tiles == std::vector<std::int64_t>{1, 5});
        CHECK(batches[3].tiles == std::vector<std::int64_t>{4});
        CHECK(batches[0].width == 4);
        CHECK(batches[0].height == 4);
        CHECK(batches[2].width == 6);
        CHECK(batches[3].height == 6);
        const shape_batch_stats s = stats_of(batches);
        CHECK(s.batches == 4);
        CHECK(s.tiles == 7);
        CHECK(s.tile_pixels == 4 * 16 + 2 * 24 + 24);
    }
    SUBCASE("every batch holds one shape and at most the batch size") {
        for (int size : {1, 3, 4, 100}) {
            const auto batches = make_shape_batches(l, size);
            std::int64_t count = 0;
            for (const auto& batch : batches) {
                CHECK(static_cast<int>(batch.tiles.size()) <= size);
                CHECK(!batch.tiles.empty());
                for (std::int64_t i : batch.tiles) {
                    CHECK(l.tiles[static_cast<std::size_t>(i)].padded.w == batch.width);
                    CHECK(l.tiles[static_cast<std::size_t>(i)].padded.h == batch.height);
                }
                count += static_cast<std::int64_t>(batch.tiles.size());
            }
            CHECK(count == 7);
        }
        CHECK(make_shape_batches(l, 100).size() == 3);
        CHECK(make_shape_batches(l, 1).size() == 7);
    }
    SUBCASE("a predicate leaves tiles out: without tile 2, A -> [0 3] [6]") {
        const auto batches = make_shape_batches(l, 2, [](const layout_tile& t) { return t.id != 2; });
        REQUIRE(batches.size() == 4);
        CHECK(batches[0].tiles == std::vector<std::int64_t>{0, 3});
        CHECK(batches[1].tiles == std::vector<std::int64_t>{6});
        CHECK(stats_of(make_shape_batches(l, 4, [](const layout_tile&) { return false; })).batches == 0);
    }
    SUBCASE("tile_batch_size < 1 is an error") {
        CHECK_THROWS_WITH_AS(make_shape_batches(l, 0), doctest::Contains("tile_batch_size = 0"), invalid_argument);
    }
}
