// Tests of the quadtree tiling: golden trees on synthetic images, split and alignment rules, limits, denoise
// rules, overlap, coverage on random images, and every bad input's error.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "image_fixtures.hpp"
#include "quadflow/tile/quadtree.hpp"

using quadflow::invalid_argument;
using quadflow::rect;
using namespace quadflow::tile;
namespace detail = quadflow::tile::detail;

namespace {

/// An RGB8 image with tightly packed rows.
struct test_image {
    std::int64_t width, height;
    std::vector<std::uint8_t> bytes;

    test_image(std::int64_t w, std::int64_t h, std::uint8_t value = 0)
        : width(w), height(h), bytes(static_cast<std::size_t>(w * h * 3), value) {}

    void set(std::int64_t x, std::int64_t y, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
        std::uint8_t* p = &bytes[static_cast<std::size_t>((y * width + x) * 3)];
        p[0] = r;
        p[1] = g;
        p[2] = b;
    }
    void fill(const rect& area, std::uint8_t value) {
        for (std::int64_t y = area.y; y < area.bottom(); ++y)
            for (std::int64_t x = area.x; x < area.right(); ++x) set(x, y, value, value, value);
    }
    rgb_image_view view() const { return packed_rgb_view(bytes.data(), width, height); }
};

/// Black and white squares of `square` pixels, white where (bx + by) is even.
test_image checker(std::int64_t w, std::int64_t h, std::int64_t square) {
    test_image image(w, h);
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) {
            const std::uint8_t v = ((x / square + y / square) % 2 == 0) ? 255 : 0;
            image.set(x, y, v, v, v);
        }
    return image;
}

using fixtures::hashed_byte;

std::vector<rect> leaf_rects(const layout& l) {
    std::vector<rect> rects;
    for (const auto& t : l.tiles) rects.push_back(t.pixel_core);
    return rects;
}

std::vector<int> leaf_depths(const layout& l) {
    std::vector<int> depths;
    for (const auto& t : l.tiles) depths.push_back(t.depth);
    return depths;
}

/// Checks that the cores partition the canvas (each latent pixel in exactly one core) and that each tile's
/// pixel core is its core times the latent scale.
void check_cores_partition(const layout& l) {
    std::vector<int> count(static_cast<std::size_t>(l.width * l.height), 0);
    for (const auto& t : l.tiles) {
        CHECK(t.pixel_core == rect{t.core.x * l.latent_scale, t.core.y * l.latent_scale, t.core.w * l.latent_scale,
                                   t.core.h * l.latent_scale});
        for (std::int64_t y = t.core.y; y < t.core.bottom(); ++y)
            for (std::int64_t x = t.core.x; x < t.core.right(); ++x) ++count[static_cast<std::size_t>(y * l.width + x)];
    }
    CHECK(std::all_of(count.begin(), count.end(), [](int c) { return c == 1; }));
}

}  // namespace

TEST_CASE("a flat image is one leaf: the root") {
    test_image image(64, 48);
    image.fill({0, 0, 64, 48}, 120);
    const layout l = build_quadtree(image.view(), {});
    REQUIRE(l.tiles.size() == 1);
    CHECK(l.width == 8);
    CHECK(l.height == 6);
    CHECK(l.latent_scale == 8);
    CHECK(l.tiles[0].pixel_core == rect{0, 0, 64, 48});
    CHECK(l.tiles[0].core == rect{0, 0, 8, 6});
    CHECK(l.tiles[0].padded == l.tiles[0].core);
    CHECK(l.tiles[0].depth == 0);
    // The only leaf is the largest: area rule gives min_strength.
    CHECK(l.tiles[0].strength == doctest::Approx(0.2));
    validate(l);
}

TEST_CASE("an 8 px checker subdivides fully down to 8 px leaves") {
    // Every node of 16 px or more holds as many white as black pixels: per channel variance 127.5^2, deviation
    // sqrt(3) * 127.5 = 220.8 > 25. 32 -> 16 -> 8 px; an 8 px node cannot split (half = 4 rounds down to 0).
    const test_image image = checker(32, 32, 8);
    const layout l = build_quadtree(image.view(), {});
    // Depth first, children top-left, top-right, bottom-left, bottom-right: the four 8 px squares of each
    // 16 px quadrant, quadrants in the same order.
    const std::vector<rect> expected{
        {0, 0, 8, 8},   {8, 0, 8, 8},   {0, 8, 8, 8},   {8, 8, 8, 8},    // top-left quadrant
        {16, 0, 8, 8},  {24, 0, 8, 8},  {16, 8, 8, 8},  {24, 8, 8, 8},   // top-right
        {0, 16, 8, 8},  {8, 16, 8, 8},  {0, 24, 8, 8},  {8, 24, 8, 8},   // bottom-left
        {16, 16, 8, 8}, {24, 16, 8, 8}, {16, 24, 8, 8}, {24, 24, 8, 8},  // bottom-right
    };
    CHECK(leaf_rects(l) == expected);
    for (const auto& t : l.tiles) {
        CHECK(t.depth == 2);
        CHECK(t.core.w == 1);
        CHECK(t.core.h == 1);
        CHECK(t.strength == doctest::Approx(0.2));  // all leaves equally large
    }
    check_cores_partition(l);
}

TEST_CASE("an image with one detailed corner subdivides only that corner") {
    // 64x64 at 100 with an 8 px checker in the top-left 16x16 (128 px at 0, 128 at 255).
    // Root: mean (128*255 + 3840*100)/4096 = 101.72, E[x^2] = 11407.0, var 1060 per channel, deviation
    // sqrt(3 * 1060) = 56 > 25: split. Top-left 32x32: mean 106.875, E[x^2] = 15628.1, var 4205.8,
    // deviation 112: split; the other three 32x32 quadrants are flat. Top-left 16x16 (the checker): split
    // into four flat 8x8; the other three 16x16 are flat.
    test_image image(64, 64);
    image.fill({0, 0, 64, 64}, 100);
    const test_image corner = checker(16, 16, 8);
    for (std::int64_t y = 0; y < 16; ++y)
        for (std::int64_t x = 0; x < 16; ++x) {
            const std::uint8_t v = corner.bytes[static_cast<std::size_t>((y * 16 + x) * 3)];
            image.set(x, y, v, v, v);
        }
    quadtree_options options;
    const layout l = build_quadtree(image.view(), options);
    const std::vector<rect> expected{
        {0, 0, 8, 8},    {8, 0, 8, 8},    {0, 8, 8, 8},     {8, 8, 8, 8},  // the checker, depth 3
        {16, 0, 16, 16}, {0, 16, 16, 16}, {16, 16, 16, 16},                // rest of the top-left 32, depth 2
        {32, 0, 32, 32}, {0, 32, 32, 32}, {32, 32, 32, 32},                // flat quadrants, depth 1
    };
    CHECK(leaf_rects(l) == expected);
    CHECK(leaf_depths(l) == std::vector<int>{3, 3, 3, 3, 2, 2, 2, 1, 1, 1});
    check_cores_partition(l);

    SUBCASE("area rule: 32 px leaves 0.2, 16 px 0.2 + 0.6 * (1 - 1/4) = 0.65, 8 px 0.2 + 0.6 * (1 - 1/16)") {
        for (const auto& t : l.tiles) {
            if (t.depth == 1) CHECK(t.strength == doctest::Approx(0.2));
            if (t.depth == 2) CHECK(t.strength == doctest::Approx(0.65));
            if (t.depth == 3) CHECK(t.strength == doctest::Approx(0.7625));
        }
    }
    SUBCASE("depth rule: depths 1..3 map to 0.2, 0.5, 0.8") {
        options.rule = leaf_strength_rule::depth;
        const layout d = build_quadtree(image.view(), options);
        for (const auto& t : d.tiles) {
            if (t.depth == 1) CHECK(t.strength == doctest::Approx(0.2));
            if (t.depth == 2) CHECK(t.strength == doctest::Approx(0.5));
            if (t.depth == 3) CHECK(t.strength == doctest::Approx(0.8));
        }
    }
    SUBCASE("overlap 16 px = 2 latent (clamp min(8, 8)/4 = 2): o = min(core_w/2, core_h/2, 2)") {
        options.overlap_pixels = 16;
        const layout o = build_quadtree(image.view(), options);
        for (const auto& t : o.tiles) {
            // 32 px leaf: core 4 -> o = 2; 16 px: core 2 -> o = 1; 8 px: core 1 -> o = 0.
            const std::int64_t expected_overlap = t.depth == 1 ? 2 : (t.depth == 2 ? 1 : 0);
            CHECK(t.overlap_left() == expected_overlap);
            CHECK(t.overlap_top() == expected_overlap);
            CHECK(t.overlap_right() == expected_overlap);
            CHECK(t.overlap_bottom() == expected_overlap);
            CHECK(t.overlap_left() == tile_overlap(t.core, 2));
        }
        validate(o);
    }
    SUBCASE("overlap 64 px = 8 latent is clamped to min(8, 8)/4 = 2 like the seed") {
        options.overlap_pixels = 64;
        CHECK(clamped_overlap_latent(64, 8, 8, 8) == 2);
        const layout o = build_quadtree(image.view(), options);
        CHECK(o.tiles[7].overlap_left() == 2);  // a 32 px leaf
    }
}

TEST_CASE("denoise per level for leaves five levels apart: area saturates, depth spreads evenly") {
    // 256x256 black with a white 8x8 at the top-left; threshold 10. A node of N^2 px holding the 64 white px
    // has deviation 255 * sqrt(3 p (1 - p)), p = 64 / N^2: N = 256 -> 13.8, 128 -> 27.6, 64 -> 54.8 (> 10),
    // so the top-left node splits at every level down to 8 px: three leaves each at depths 1..4 (128, 64,
    // 32, 16 px) and four 8 px leaves at depth 5. Levels below the largest leaf: depth - 1.
    test_image image(256, 256);
    image.fill({0, 0, 8, 8}, 255);
    quadtree_options options;
    options.content_threshold = 10;
    const layout area = build_quadtree(image.view(), options);
    REQUIRE(area.tiles.size() == 3 * 4 + 4);
    options.rule = leaf_strength_rule::depth;
    const layout depth = build_quadtree(image.view(), options);
    REQUIRE(depth.tiles.size() == area.tiles.size());
    for (std::size_t i = 0; i < area.tiles.size(); ++i) {
        const int level = area.tiles[i].depth - 1;
        CHECK(area.tiles[i].pixel_core.w == 128 >> level);
        // area: 0.2 + 0.6 * (1 - 4^-level) -> 0.2, 0.65, 0.7625, 0.790625, 0.79765625.
        CHECK(area.tiles[i].strength == doctest::Approx(0.2 + 0.6 * (1.0 - std::pow(0.25, level))));
        // depth: 0.2 + 0.6 * level / 4 -> 0.2, 0.35, 0.5, 0.65, 0.8.
        CHECK(depth.tiles[i].strength == doctest::Approx(0.2 + 0.15 * level));
    }
    CHECK(area_strength(64, 16384, 0.2, 0.8) == doctest::Approx(0.79765625));
    CHECK(depth_strength(3, 1, 1, 0.2, 0.8) == doctest::Approx(0.2));
}

TEST_CASE("alignment and remainders on a 40x24 image") {
    // Checker of 8 px squares on 40x24 (5x3 squares). Root 40x24: half_w = 20 -> 16, half_h = 12 -> 8;
    // children (0,0,16,8), (16,0,24,8), (0,8,16,16), (16,8,24,16): right/bottom take the remainder.
    // The two 8 px tall children cannot split (half_h = 4 -> 0, the seed never splits one axis only).
    // (0,8,16,16) splits into four 8x8. (16,8,24,16): half_w = 12 -> 8, half_h = 8: children (16,8,8,8),
    // (24,8,16,8), (16,16,8,8), (24,16,16,8), none of which can split.
    const std::vector<rect> expected{
        {0, 0, 16, 8}, {16, 0, 24, 8},                                   // depth 1
        {0, 8, 8, 8},  {8, 8, 8, 8},   {0, 16, 8, 8},  {8, 16, 8, 8},    // depth 2
        {16, 8, 8, 8}, {24, 8, 16, 8}, {16, 16, 8, 8}, {24, 16, 16, 8},  // depth 2
    };
    const test_image image = checker(40, 24, 8);
    const layout l = build_quadtree(image.view(), {});
    CHECK(leaf_rects(l) == expected);
    CHECK(leaf_depths(l) == std::vector<int>{1, 1, 2, 2, 2, 2, 2, 2, 2, 2});
    CHECK(l.width == 5);
    CHECK(l.height == 3);
    check_cores_partition(l);

    SUBCASE("a 45x27 image with anything in the extra columns and rows has the same tree") {
        test_image larger(45, 27, 77);
        for (std::int64_t y = 0; y < 24; ++y)
            for (std::int64_t x = 0; x < 40; ++x) {
                const std::uint8_t v = image.bytes[static_cast<std::size_t>((y * 40 + x) * 3)];
                larger.set(x, y, v, v, v);
            }
        for (std::int64_t x = 0; x < 45; ++x) larger.set(x, 26, static_cast<std::uint8_t>(x * 5), 0, 255);
        CHECK(leaf_rects(build_quadtree(larger.view(), {})) == expected);
    }
    SUBCASE("a padded row stride changes nothing") {
        std::vector<std::uint8_t> strided(static_cast<std::size_t>(24 * 128), 9);
        for (std::int64_t y = 0; y < 24; ++y)
            std::copy_n(&image.bytes[static_cast<std::size_t>(y * 120)], 120,
                        &strided[static_cast<std::size_t>(y * 128)]);
        CHECK(leaf_rects(build_quadtree(rgb_image_view{strided.data(), 40, 24, 128}, {})) == expected);
    }
}

TEST_CASE("align 16 rounds the root and the split points to 16 px") {
    // 56x40 checker of 8 px, align 16: root 48x32; half_w = 24 -> 16, half_h = 16; children (0,0,16,16),
    // (16,0,32,16), (0,16,16,16), (16,16,32,16). A 16 px side cannot split (half 8 -> 0), so all are leaves.
    quadtree_options options;
    options.align = 16;
    const layout l = build_quadtree(checker(56, 40, 8).view(), options);
    CHECK(leaf_rects(l) == std::vector<rect>{{0, 0, 16, 16}, {16, 0, 32, 16}, {0, 16, 16, 16}, {16, 16, 32, 16}});
    CHECK(l.width == 6);
    CHECK(l.height == 4);
}

TEST_CASE("min_tile_size: each axis's smaller half must reach it") {
    // 32x32 checker of 8 px with min_tile_size 12: the root's halves are 16 >= 12, the 16 px quadrants' 8 < 12.
    quadtree_options options;
    options.min_tile_size = 12;
    const layout l = build_quadtree(checker(32, 32, 8).view(), options);
    CHECK(leaf_rects(l) == std::vector<rect>{{0, 0, 16, 16}, {16, 0, 16, 16}, {0, 16, 16, 16}, {16, 16, 16, 16}});
    CHECK(smallest_leaf_side(options) == 16);
}

TEST_CASE("max_tile_size splits large flat nodes; an axis that cannot split is left whole") {
    quadtree_options options;
    options.max_tile_size = 16;
    SUBCASE("flat 64x64: 64 -> 32 -> 16, sixteen 16 px leaves at depth 2") {
        test_image image(64, 64, 50);
        const layout l = build_quadtree(image.view(), options);
        REQUIRE(l.tiles.size() == 16);
        for (const auto& t : l.tiles) {
            CHECK(t.pixel_core.w == 16);
            CHECK(t.pixel_core.h == 16);
            CHECK(t.depth == 2);
        }
        CHECK(l.tiles[1].pixel_core == rect{16, 0, 16, 16});
        check_cores_partition(l);
    }
    SUBCASE("flat 64x16: four 32x8, then each 32x8 splits along x only into two 16x8") {
        test_image image(64, 16, 50);
        const layout l = build_quadtree(image.view(), options);
        CHECK(leaf_rects(l) == std::vector<rect>{{0, 0, 16, 8},
                                                 {16, 0, 16, 8},
                                                 {32, 0, 16, 8},
                                                 {48, 0, 16, 8},
                                                 {0, 8, 16, 8},
                                                 {16, 8, 16, 8},
                                                 {32, 8, 16, 8},
                                                 {48, 8, 16, 8}});
        CHECK(leaf_depths(l) == std::vector<int>(8, 2));
    }
    SUBCASE("max_depth wins over max_tile_size") {
        options.max_depth = 1;
        test_image image(64, 64, 50);
        const layout l = build_quadtree(image.view(), options);
        CHECK(l.tiles.size() == 4);
        CHECK(l.tiles[0].pixel_core == rect{0, 0, 32, 32});
    }
}

TEST_CASE("max_depth stops splitting") {
    const test_image image = checker(32, 32, 8);
    quadtree_options options;
    options.max_depth = 0;
    CHECK(leaf_rects(build_quadtree(image.view(), options)) == std::vector<rect>{{0, 0, 32, 32}});
    options.max_depth = 1;
    CHECK(leaf_rects(build_quadtree(image.view(), options)) ==
          std::vector<rect>{{0, 0, 16, 16}, {16, 0, 16, 16}, {0, 16, 16, 16}, {16, 16, 16, 16}});
}

TEST_CASE("min_latent_tile keeps leaves at least that many latent pixels wide") {
    // min_latent_tile 2 at scale 8: leaves >= 16 px, so the 32 px checker stops at 16 px.
    quadtree_options options;
    options.min_latent_tile = 2;
    const layout l = build_quadtree(checker(32, 32, 8).view(), options);
    REQUIRE(l.tiles.size() == 4);
    for (const auto& t : l.tiles) {
        CHECK(t.core.w == 2);
        CHECK(t.core.h == 2);
    }
    // A root below 16 px cannot give the model a tile it accepts.
    CHECK_THROWS_WITH_AS(build_quadtree(checker(8, 32, 8).view(), options), doctest::Contains("image.width = 8"),
                         invalid_argument);
}

TEST_CASE("block summed-area tables give each node's exact deviation") {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> byte(0, 255);
    test_image image(72, 40);
    for (auto& b : image.bytes) b = static_cast<std::uint8_t>(byte(rng));
    const detail::block_moment_table table(image.view(), 8, 9, 5);
    for (const rect& r : {rect{0, 0, 72, 40}, rect{8, 16, 24, 8}, rect{64, 32, 8, 8}, rect{16, 0, 40, 40}}) {
        double sum[3] = {0, 0, 0}, squares[3] = {0, 0, 0};
        for (std::int64_t y = r.y; y < r.bottom(); ++y)
            for (std::int64_t x = r.x; x < r.right(); ++x)
                for (int c = 0; c < 3; ++c) {
                    const double v = image.bytes[static_cast<std::size_t>((y * 72 + x) * 3 + c)];
                    sum[c] += v;
                    squares[c] += v * v;
                }
        const double n = static_cast<double>(r.area());
        double variance = 0;
        for (int c = 0; c < 3; ++c) variance += squares[c] / n - (sum[c] / n) * (sum[c] / n);
        const detail::rgb_moments m = table.sum(r.x / 8, r.y / 8, r.right() / 8, r.bottom() / 8);
        CHECK(m.r == sum[0]);
        CHECK(m.squares == squares[0] + squares[1] + squares[2]);
        CHECK(detail::rgb_deviation(m, n) == doctest::Approx(std::sqrt(variance)).epsilon(1e-12));
    }
}

TEST_CASE("random images and options: a valid layout whose cores partition the canvas") {
    std::mt19937 rng(2024);
    auto uniform = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    int split_trials = 0, padded_trials = 0;
    for (int trial = 0; trial < 200; ++trial) {
        test_image image(uniform(16, 160), uniform(16, 160));
        // Flat patches of random size and colour: some nodes split, some do not.
        const std::int64_t patch = uniform(1, 24);
        for (std::int64_t y = 0; y < image.height; ++y)
            for (std::int64_t x = 0; x < image.width; ++x) {
                const auto cell = static_cast<std::uint32_t>((x / patch) * 7919 + (y / patch) * 104729 + trial * 31);
                image.set(x, y, hashed_byte(cell, 0), hashed_byte(cell, 1), hashed_byte(cell, 2));
            }
        quadtree_options options;
        options.content_threshold = static_cast<double>(uniform(1, 120));
        options.align = uniform(0, 3) == 0 ? 16 : 8;
        options.min_tile_size = uniform(1, 24);
        options.max_depth = static_cast<int>(uniform(-1, 5));
        options.overlap_pixels = uniform(0, 4) * 8;
        options.rule = uniform(0, 1) == 0 ? leaf_strength_rule::area : leaf_strength_rule::depth;
        if (uniform(0, 2) == 0) options.max_tile_size = 2 * smallest_leaf_side(options) + uniform(0, 40);
        CAPTURE(trial);
        const layout l = build_quadtree(image.view(), options);
        CHECK(l.width == image.width / options.align * options.align / 8);
        CHECK(l.height == image.height / options.align * options.align / 8);
        validate(l);
        check_cores_partition(l);
        split_trials += l.tiles.size() > 1 ? 1 : 0;
        padded_trials +=
            std::any_of(l.tiles.begin(), l.tiles.end(), [](const auto& t) { return t.overlap_left() > 0; });
        for (const auto& t : l.tiles) {
            CHECK(t.strength >= options.min_strength - 1e-12);
            CHECK(t.strength <= options.max_strength + 1e-12);
            if (options.max_depth >= 0) CHECK(t.depth <= options.max_depth);
            if (options.max_tile_size > 0 && options.max_depth < 0) {
                CHECK(t.pixel_core.w <= options.max_tile_size);
                CHECK(t.pixel_core.h <= options.max_tile_size);
            }
        }
    }
    CHECK(split_trials > 100);
    CHECK(padded_trials > 20);
}

TEST_CASE("bad options and images name the parameter and its value") {
    const test_image image = checker(32, 32, 8);
    auto with = [](auto change) {
        quadtree_options o;
        change(o);
        return o;
    };
    auto fails = [&](const quadtree_options& o, const char* text) {
        CHECK_THROWS_WITH_AS(build_quadtree(image.view(), o), doctest::Contains(text), invalid_argument);
    };
    fails(with([](auto& o) { o.content_threshold = 0; }), "content_threshold = 0");
    fails(with([](auto& o) { o.content_threshold = -5; }), "content_threshold = -5");
    fails(with([](auto& o) { o.content_threshold = std::numeric_limits<double>::quiet_NaN(); }),
          "content_threshold = nan");
    fails(with([](auto& o) { o.min_tile_size = 0; }), "min_tile_size = 0");
    fails(with([](auto& o) { o.align = 0; }), "align = 0");
    fails(with([](auto& o) { o.align = 12; }), "align = 12");
    fails(with([](auto& o) { o.latent_scale = 0; }), "latent_scale = 0");
    fails(with([](auto& o) { o.min_latent_tile = 0; }), "min_latent_tile = 0");
    fails(with([](auto& o) { o.min_latent_tile = std::int64_t{1} << 62; }), "min_latent_tile = 4611686018427387904");
    fails(with([](auto& o) { o.min_tile_size = std::int64_t{1} << 40; }), "min_tile_size = 1099511627776");
    fails(with([](auto& o) { o.max_depth = -2; }), "max_depth = -2");
    fails(with([](auto& o) { o.max_tile_size = -1; }), "max_tile_size = -1");
    fails(with([](auto& o) { o.max_tile_size = 8; }), "max_tile_size = 8");
    fails(with([](auto& o) { o.min_strength = -0.1; }), "min_strength = -0.1");
    fails(with([](auto& o) { o.max_strength = 1.5; }), "max_strength = 1.5");
    fails(with([](auto& o) { o.min_strength = 0.9; }), "min_strength = 0.9");
    fails(with([](auto& o) { o.overlap_pixels = -8; }), "overlap_pixels = -8");
    fails(with([](auto& o) { o.max_pixels = 0; }), "max_pixels = 0");
    fails(with([](auto& o) { o.max_pixels = 1000; }), "image.width * image.height = 32 * 32");

    CHECK_THROWS_WITH_AS(build_quadtree(rgb_image_view{nullptr, 32, 32, 96}, {}),
                         doctest::Contains("image.data = nullptr"), invalid_argument);
    CHECK_THROWS_WITH_AS(build_quadtree(rgb_image_view{image.bytes.data(), 0, 32, 96}, {}),
                         doctest::Contains("image.width = 0"), invalid_argument);
    CHECK_THROWS_WITH_AS(build_quadtree(rgb_image_view{image.bytes.data(), 32, -1, 96}, {}),
                         doctest::Contains("image.height = -1"), invalid_argument);
    CHECK_THROWS_WITH_AS(build_quadtree(rgb_image_view{image.bytes.data(), 32, 32, 95}, {}),
                         doctest::Contains("image.row_stride = 95"), invalid_argument);
    CHECK_THROWS_WITH_AS(build_quadtree(rgb_image_view{image.bytes.data(), 7, 32, 96}, {}),
                         doctest::Contains("image.width = 7"), invalid_argument);
    CHECK_THROWS_WITH_AS(build_quadtree(rgb_image_view{image.bytes.data(), 32, 5, 96}, {}),
                         doctest::Contains("image.height = 5"), invalid_argument);
}

TEST_CASE("leaf_strength_rule names round-trip and a bad name is an error") {
    for (leaf_strength_rule rule : {leaf_strength_rule::area, leaf_strength_rule::depth})
        CHECK(parse_leaf_strength_rule(to_string(rule)) == rule);
    CHECK_THROWS_WITH_AS(parse_leaf_strength_rule("size"), doctest::Contains("leaf_strength_rule = size"),
                         invalid_argument);
}
