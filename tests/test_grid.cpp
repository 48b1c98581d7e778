// Tests of the grid tilings: ComfyUI-TiledDiffusion's evenly spread grid and SpotDiffusion's shifted grid.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "quadflow/tile/grid.hpp"

using quadflow::invalid_argument;
using quadflow::rect;
using namespace quadflow::tile;
namespace detail = quadflow::tile::detail;

namespace {

std::vector<std::int64_t> starts(const std::vector<detail::axis_span>& spans) {
    std::vector<std::int64_t> s;
    for (const auto& span : spans) s.push_back(span.start);
    return s;
}

std::vector<std::int64_t> core_starts(const std::vector<detail::axis_span>& spans) {
    std::vector<std::int64_t> s;
    for (const auto& span : spans) s.push_back(span.core_start);
    return s;
}

/// Each latent pixel lies in exactly one core.
void check_cores_partition(const layout& l) {
    std::vector<int> count(static_cast<std::size_t>(l.width * l.height), 0);
    for (const auto& t : l.tiles)
        for (std::int64_t y = t.core.y; y < t.core.bottom(); ++y)
            for (std::int64_t x = t.core.x; x < t.core.right(); ++x) ++count[static_cast<std::size_t>(y * l.width + x)];
    CHECK(std::all_of(count.begin(), count.end(), [](int c) { return c == 1; }));
}

std::vector<rect> padded_rects(const layout& l) {
    std::vector<rect> rects;
    for (const auto& t : l.tiles) rects.push_back(t.padded);
    return rects;
}

}  // namespace

TEST_CASE("the grid reproduces ComfyUI-TiledDiffusion's counts at 4096^2") {
    // 512 latent, tile 96: overlap 8 -> ceil((512 - 8) / 88) = 6 per axis, 36 tiles, 36 * 96^2 / 512^2 = 1.27x;
    // overlap 32 -> ceil(480 / 64) = 8 per axis, 64 tiles, 2.25x.
    const layout a = build_grid(512, 512, {});
    CHECK(a.tiles.size() == 36);
    CHECK(static_cast<double>(36 * 96 * 96) / (512.0 * 512.0) == doctest::Approx(1.265625));
    grid_options wide;
    wide.overlap_latent = 32;
    const layout b = build_grid(512, 512, wide);
    CHECK(b.tiles.size() == 64);
    for (const auto& t : b.tiles) {
        CHECK(t.padded.w == 96);
        CHECK(t.padded.h == 96);
    }
}

TEST_CASE("grid origins, sizes and cores on one axis, worked by hand") {
    SUBCASE("20 latent, tile 8, overlap 2: 3 tiles at 0, 6, 12; cores split at 7 and 13") {
        // n = ceil((20 - 2) / (8 - 2)) = 3, dy = (20 - 8) / 2 = 6; boundaries (6 + 0 + 8) / 2 = 7, (12 + 6 + 8) / 2
        // = 13.
        const auto spans = detail::grid_axis(20, 8, 2);
        CHECK(starts(spans) == std::vector<std::int64_t>{0, 6, 12});
        CHECK(core_starts(spans) == std::vector<std::int64_t>{0, 7, 13});
        CHECK(spans.back().core_start + spans.back().core_size == 20);
    }
    SUBCASE("30 latent, tile 8, overlap 2: dy = 22 / 4 = 5.5 gives 0, 5, 11, 16, 22") {
        // n = ceil(28 / 6) = 5; int(k * 5.5) = 0, 5, 11, 16, 22.
        CHECK(starts(detail::grid_axis(30, 8, 2)) == std::vector<std::int64_t>{0, 5, 11, 16, 22});
    }
    SUBCASE("the last tile is pinned to the edge where the extension's double arithmetic falls short") {
        // 428 latent, tile 3, no overlap: n = ceil(428 / 3) = 143, dy = 425 / 142; 142 * dy rounds to
        // 424.99999..., which int() makes 424: the extension's last tile would end at 427 of 428.
        const double dy = 425.0 / 142.0;
        CHECK(static_cast<std::int64_t>(142.0 * dy) == 424);
        const auto origins = detail::grid_origins(428, 3, 0);
        CHECK(origins.size() == 143);
        CHECK(origins.back() == 425);
    }
    SUBCASE("a canvas smaller than the tile gets one tile of the canvas size") {
        const auto spans = detail::grid_axis(5, 8, 2);
        REQUIRE(spans.size() == 1);
        CHECK(spans[0].start == 0);
        CHECK(spans[0].size == 5);
        CHECK(spans[0].core_size == 5);
    }
    SUBCASE("a 2-D grid is row-major over the axes") {
        grid_options o;
        o.tile = 8;
        o.overlap_latent = 2;
        const layout l = build_grid(5, 20, o);
        CHECK(padded_rects(l) == std::vector<rect>{{0, 0, 5, 8}, {0, 6, 5, 8}, {0, 12, 5, 8}});
        CHECK(l.tiles[1].core == rect{0, 7, 5, 6});
        CHECK(l.tiles[1].pixel_core == rect{0, 56, 40, 48});
        CHECK(l.tiles[1].overlap_top() == 1);
        CHECK(l.tiles[1].overlap_bottom() == 1);
    }
}

TEST_CASE("random grids: every tile has the requested size and neighbours overlap at least as requested") {
    std::mt19937 rng(11);
    auto uniform = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    for (int trial = 0; trial < 500; ++trial) {
        grid_options o;
        o.tile = uniform(1, 128);
        o.overlap_latent = uniform(0, o.tile - 1);
        o.strength = 0.5;
        const std::int64_t width = uniform(1, 600), height = uniform(1, 600);
        CAPTURE(trial);
        const layout l = build_grid(width, height, o);
        validate(l);
        check_cores_partition(l);
        for (const auto& [extent, spans] : {std::pair{width, detail::grid_axis(width, o.tile, o.overlap_latent)},
                                            std::pair{height, detail::grid_axis(height, o.tile, o.overlap_latent)}}) {
            const std::int64_t size = std::min(o.tile, extent);
            CHECK(spans.front().start == 0);
            CHECK(spans.back().start + spans.back().size == extent);
            for (std::size_t k = 0; k < spans.size(); ++k) {
                CHECK(spans[k].size == size);
                CHECK(spans[k].core_start >= spans[k].start);
                CHECK(spans[k].core_start + spans[k].core_size <= spans[k].start + size);
                if (k + 1 < spans.size()) {
                    CHECK(spans[k + 1].start > spans[k].start);
                    CHECK(spans[k].start + size - spans[k + 1].start >= o.overlap_latent);
                }
            }
        }
        for (const auto& t : l.tiles) CHECK(t.strength == 0.5);
    }
}

TEST_CASE("bad grid options name the parameter and its value") {
    grid_options o;
    o.tile = 0;
    CHECK_THROWS_WITH_AS(build_grid(64, 64, o), doctest::Contains("tile = 0"), invalid_argument);
    o = {};
    o.overlap_latent = 96;
    CHECK_THROWS_WITH_AS(build_grid(64, 64, o), doctest::Contains("overlap_latent = 96"), invalid_argument);
    o.overlap_latent = -1;
    CHECK_THROWS_WITH_AS(build_grid(64, 64, o), doctest::Contains("overlap_latent = -1"), invalid_argument);
    o = {};
    o.strength = 1.5;
    CHECK_THROWS_WITH_AS(build_grid(64, 64, o), doctest::Contains("strength = 1.5"), invalid_argument);
    o = {};
    o.latent_scale = 0;
    CHECK_THROWS_WITH_AS(build_grid(64, 64, o), doctest::Contains("latent_scale = 0"), invalid_argument);
    CHECK_THROWS_WITH_AS(build_grid(0, 64, {}), doctest::Contains("width = 0"), invalid_argument);
    CHECK_THROWS_WITH_AS(build_grid(64, -3, {}), doctest::Contains("height = -3"), invalid_argument);
}

TEST_CASE("SpotDiffusion axes: cuts at offset + k * tile, clipped at the edges") {
    // 20 latent, tile 8, offset 3: cuts at 3, 11, 19.
    CHECK(starts(detail::shifted_axis(20, 8, 3)) == std::vector<std::int64_t>{0, 3, 11, 19});
    // Offset 0: the plain grid, last tile clipped.
    CHECK(starts(detail::shifted_axis(20, 8, 0)) == std::vector<std::int64_t>{0, 8, 16});
    const auto spans = detail::shifted_axis(20, 8, 0);
    CHECK(spans.back().size == 4);
}

TEST_CASE("SpotDiffusion layouts are deterministic, non-overlapping and never wrap") {
    const std::vector<rect> first = padded_rects(build_spot(50, 37, 16, 0, 12, 1234, spot_shift::random, 8));
    bool moved = false;
    for (int step = 0; step < 12; ++step) {
        const layout a = build_spot(50, 37, 16, step, 12, 1234, spot_shift::random, 8);
        const layout b = build_spot(50, 37, 16, step, 12, 1234, spot_shift::random, 8);
        CHECK(padded_rects(a) == padded_rects(b));
        validate(a);
        check_cores_partition(a);
        for (const auto& t : a.tiles) {
            CHECK(t.padded == t.core);  // no overlap, nothing outside the canvas, no wrap-around
            CHECK(t.padded.x >= 0);
            CHECK(t.padded.y >= 0);
            CHECK(t.padded.right() <= 50);
            CHECK(t.padded.bottom() <= 37);
            CHECK(t.padded.w <= 16);
            CHECK(t.padded.h <= 16);
            CHECK(t.strength == 1.0);
            // Only tiles touching an edge are clipped.
            if (t.padded.x > 0 && t.padded.right() < 50) CHECK(t.padded.w == 16);
            if (t.padded.y > 0 && t.padded.bottom() < 37) CHECK(t.padded.h == 16);
        }
        moved = moved || padded_rects(a) != first;
    }
    CHECK(moved);  // the grid moves from step to step
    const layout other_seed = build_spot(50, 37, 16, 0, 12, 99, spot_shift::random, 8);
    validate(other_seed);
}

TEST_CASE("SpotDiffusion: an axis no longer than the tile is one unshifted tile") {
    for (int step = 0; step < 6; ++step) {
        const layout l = build_spot(12, 40, 16, step, 6, 5, spot_shift::random, 8);
        for (const auto& t : l.tiles) {
            CHECK(t.padded.x == 0);
            CHECK(t.padded.w == 12);
        }
    }
}

TEST_CASE("SpotDiffusion offset orders: sorted ascends, fibonacci permutes the sorted values") {
    const auto random = detail::spot_offsets(20, 16, 42, spot_shift::random, 0);
    const auto sorted = detail::spot_offsets(20, 16, 42, spot_shift::sorted, 0);
    const auto fibonacci = detail::spot_offsets(20, 16, 42, spot_shift::fibonacci, 0);
    for (auto v : random) {
        CHECK(v >= 0);
        CHECK(v < 16);
    }
    CHECK(std::is_sorted(sorted.begin(), sorted.end()));
    auto copy = random;
    std::sort(copy.begin(), copy.end());
    CHECK(copy == sorted);
    auto fib_sorted = fibonacci;
    std::sort(fib_sorted.begin(), fib_sorted.end());
    CHECK(fib_sorted == sorted);
    CHECK(detail::spot_offsets(20, 16, 42, spot_shift::random, 1) != random);  // the axes draw separately
}

TEST_CASE("fibonacci_spacing as the ComfyUI port computes it") {
    // n = 10, fib = 0 1 1 2 3 5 8 13. Values 0..4 land on 0..4 (1, 2, 3 bumped forward), 5 -> 5, 6 -> 8,
    // 7 -> 13 % 10 = 3, bumped to 6; 8 -> fib[0] = 0, bumped to 7; 9 -> fib[1] = 1, bumped to 9.
    std::vector<std::int64_t> values{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK(detail::fibonacci_spacing(values) == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 7, 8, 6, 9});
}

TEST_CASE("spot_shift names round-trip; bad SpotDiffusion arguments are errors") {
    for (spot_shift s : {spot_shift::random, spot_shift::sorted, spot_shift::fibonacci})
        CHECK(parse_spot_shift(to_string(s)) == s);
    CHECK_THROWS_WITH_AS(parse_spot_shift("golden"), doctest::Contains("spot_shift = golden"), invalid_argument);
    CHECK_THROWS_WITH_AS(build_spot(64, 64, 16, 10, 10, 0, spot_shift::random, 8), doctest::Contains("step = 10"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(build_spot(64, 64, 16, -1, 10, 0, spot_shift::random, 8), doctest::Contains("step = -1"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(build_spot(64, 64, 16, 0, 0, 0, spot_shift::random, 8), doctest::Contains("total_steps = 0"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(build_spot(64, 64, 0, 0, 10, 0, spot_shift::random, 8), doctest::Contains("tile = 0"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(build_spot(0, 64, 16, 0, 10, 0, spot_shift::random, 8), doctest::Contains("width = 0"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(build_spot(64, 64, 16, 0, 10, 0, spot_shift::random, 0), doctest::Contains("latent_scale = 0"),
                         invalid_argument);
}
