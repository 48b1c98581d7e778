// Tests of the host-built tables of the CUDA blend (no GPU, no nvcc): per-block coverage lists and the flat tile
// tables.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "field_fixtures.hpp"
#include "quadflow/cuda/blend_tables.hpp"
#include "quadflow/cuda/coverage.hpp"
#include "quadflow/field/blend_plan.hpp"
#include "quadflow/tile/grid.hpp"
#include "quadflow/tile/image.hpp"
#include "quadflow/tile/quadtree.hpp"

using namespace quadflow;

namespace {

/// A quadtree with several depths whose padded tiles leave the canvas (a checkerboard in one quadrant).
tile::layout checker_quadtree() {
    constexpr std::int64_t width = 256, height = 192;
    std::vector<std::uint8_t> pixels(static_cast<std::size_t>(width * height * 3), 100);
    for (std::int64_t y = 0; y < height / 2; ++y)
        for (std::int64_t x = width / 2; x < width; ++x)
            if ((x / 8 + y / 8) % 2 == 0)
                for (int k = 0; k < 3; ++k) pixels[static_cast<std::size_t>((y * width + x) * 3 + k)] = 250;
    tile::quadtree_options o;
    o.latent_scale = 8;
    o.min_tile_size = 16;
    o.overlap_pixels = 16;
    return tile::build_quadtree(tile::packed_rgb_view(pixels.data(), width, height), o);
}

std::vector<tile::layout> test_layouts() {
    return {tile::build_grid(70, 54, {.tile = 24, .overlap_latent = 6, .latent_scale = 8}),
            tile::build_grid(33, 17, {.tile = 40, .overlap_latent = 8, .latent_scale = 8}),
            fixtures::grid_layout(3, 2, 8, 3, {0.5}), checker_quadtree()};
}

/// Checks `coverage` against the definition, pixel by pixel and block by block.
void check_coverage(const tile::layout& layout, const cuda::pixel_block_coverage& coverage) {
    REQUIRE(coverage.offsets.size() == static_cast<std::size_t>(coverage.block_count()) + 1);
    CHECK(coverage.offsets.front() == 0);
    CHECK(coverage.offsets.back() == static_cast<std::int32_t>(coverage.tiles.size()));
    for (std::int64_t b = 0; b < coverage.block_count(); ++b) {
        const auto first = coverage.tiles.begin() + coverage.offsets[static_cast<std::size_t>(b)];
        const auto last = coverage.tiles.begin() + coverage.offsets[static_cast<std::size_t>(b) + 1];
        CHECK(std::is_sorted(first, last));
        CHECK(std::adjacent_find(first, last) == last);
        // Exactly the tiles whose padded rectangle, clipped to the canvas, meets the block.
        const rect block = coverage.block_rect(b, layout.width, layout.height);
        std::vector<std::int32_t> expected;
        for (const tile::layout_tile& t : layout.tiles) {
            const rect r = clipped(t.padded, layout.width, layout.height);
            if (r.x < block.right() && block.x < r.right() && r.y < block.bottom() && block.y < r.bottom())
                expected.push_back(static_cast<std::int32_t>(t.id));
        }
        CHECK(std::vector<std::int32_t>(first, last) == expected);
    }
    // Every pixel's covering tiles are in its block's list.
    for (std::int64_t y = 0; y < layout.height; ++y)
        for (std::int64_t x = 0; x < layout.width; ++x) {
            const std::int64_t b = coverage.block_of(x, y);
            const std::set<std::int32_t> listed(
                coverage.tiles.begin() + coverage.offsets[static_cast<std::size_t>(b)],
                coverage.tiles.begin() + coverage.offsets[static_cast<std::size_t>(b) + 1]);
            for (const tile::layout_tile& t : layout.tiles)
                if (t.padded.contains(x, y)) CHECK(listed.count(static_cast<std::int32_t>(t.id)) == 1);
        }
}

}  // namespace

TEST_CASE("coverage lists hold exactly the tiles that reach each block, in tile order") {
    for (const tile::layout& layout : test_layouts()) {
        CAPTURE(layout.width);
        CAPTURE(layout.height);
        for (auto [bw, bh] : {std::pair<std::int64_t, std::int64_t>{32, 8}, {1, 1}, {7, 5}, {1000, 1000}}) {
            CAPTURE(bw);
            CAPTURE(bh);
            const cuda::pixel_block_coverage coverage = cuda::build_pixel_block_coverage(layout, bw, bh);
            CHECK(coverage.blocks_x == (layout.width + bw - 1) / bw);
            CHECK(coverage.blocks_y == (layout.height + bh - 1) / bh);
            check_coverage(layout, coverage);
        }
    }
}

TEST_CASE("one-pixel blocks list exactly the tiles that contain the pixel") {
    const tile::layout layout = checker_quadtree();
    const auto coverage = cuda::build_pixel_block_coverage(layout, 1, 1);
    for (std::int64_t y = 0; y < layout.height; ++y)
        for (std::int64_t x = 0; x < layout.width; ++x) {
            const std::int64_t b = coverage.block_of(x, y);
            std::vector<std::int32_t> expected;
            for (const tile::layout_tile& t : layout.tiles)
                if (t.padded.contains(x, y)) expected.push_back(static_cast<std::int32_t>(t.id));
            CHECK(std::vector<std::int32_t>(
                      coverage.tiles.begin() + coverage.offsets[static_cast<std::size_t>(b)],
                      coverage.tiles.begin() + coverage.offsets[static_cast<std::size_t>(b) + 1]) == expected);
        }
}

TEST_CASE("blend tables hold each tile's rectangle and the blend plan's weights, value for value") {
    for (const tile::layout& layout : test_layouts())
        for (blend::weight_kind kind :
             {blend::weight_kind::uniform, blend::weight_kind::gaussian, blend::weight_kind::smootherstep}) {
            const field::blend_plan plan(layout, {kind, 0.02f});
            const cuda::blend_tables tables = cuda::build_blend_tables(layout, plan);
            CHECK(tables.width == layout.width);
            CHECK(tables.height == layout.height);
            REQUIRE(tables.tiles.size() == layout.tiles.size());
            std::int64_t expected_size = 0;
            for (std::size_t t = 0; t < layout.tiles.size(); ++t) {
                const cuda::device_tile& d = tables.tiles[t];
                CHECK(rect{d.x, d.y, d.w, d.h} == layout.tiles[t].padded);
                CHECK(std::equal(plan.row_weights(t), plan.row_weights(t) + d.h,
                                 tables.axis_weights.begin() + d.row_weights));
                CHECK(std::equal(plan.column_weights(t), plan.column_weights(t) + d.w,
                                 tables.axis_weights.begin() + d.column_weights));
                expected_size += d.h + d.w;
            }
            CHECK(static_cast<std::int64_t>(tables.axis_weights.size()) == expected_size);
            CHECK(tables.inverse_weight_sum == plan.inverse_weight_sum());
            CHECK(tables.coverage.block_width == cuda::blend_tuning::block_width);
            CHECK(tables.coverage.block_height == cuda::blend_tuning::block_height);
            check_coverage(layout, tables.coverage);
        }
}

TEST_CASE("coverage and blend tables reject what the kernels cannot index") {
    const tile::layout layout = fixtures::grid_layout(2, 2, 8, 0, {0.5});
    CHECK_THROWS_WITH_AS(cuda::build_pixel_block_coverage(layout, 0, 8), "block_width = 0: must be > 0",
                         invalid_argument);
    CHECK_THROWS_WITH_AS(cuda::build_pixel_block_coverage(layout, 8, -1), "block_height = -1: must be > 0",
                         invalid_argument);
    tile::layout huge;
    huge.width = 50000;
    huge.height = 50000;
    huge.tiles.push_back(tile::layout_tile{{0, 0, 50000, 50000}, {0, 0, 50000, 50000}, 1.0, 0, 0, {}});
    CHECK_THROWS_WITH_AS(cuda::build_blend_tables(huge, field::blend_plan()),
                         doctest::Contains("fewer than 2^31 pixels"), invalid_argument);
}
