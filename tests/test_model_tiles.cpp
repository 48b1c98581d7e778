// Tests of tile/model_tiles.hpp: model-sized tiles over a fine quadtree (partition, side limits, alignment, denoise
// against a brute-force strength map, the demo photo, option errors) and the example pipeline's model tiles.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "image_fixtures.hpp"
#include "quadflow/policy/strength_map.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/schedule/shift.hpp"
#include "quadflow/tile/model_tiles.hpp"
#include "quadflow/tile/quadtree.hpp"
#include "quadflow_app/image_io.hpp"
#include "quadflow_app/img2img_pipeline.hpp"

using quadflow::host_tensor;
using quadflow::invalid_argument;
using quadflow::rect;
using namespace quadflow::tile;
namespace app = quadflow::app;

namespace {

using fixtures::hashed_byte;

/// Flat grey with random blocks of `block` px inside `busy` (image px): the quadtree splits finely there only.
app::rgb_image busy_patch(std::int64_t w, std::int64_t h, const rect& busy, std::int64_t block) {
    app::rgb_image image(w, h, {128, 128, 128});
    for (std::int64_t y = busy.y; y < busy.bottom(); ++y)
        for (std::int64_t x = busy.x; x < busy.right(); ++x) {
            const auto cell = static_cast<std::uint32_t>((y / block) * 4099 + x / block);
            image.set(x, y, {hashed_byte(cell, 0), hashed_byte(cell, 1), hashed_byte(cell, 2)});
        }
    return image;
}

struct side_range {
    std::int64_t smallest = INT64_MAX, largest = 0;
};

side_range core_sides(const layout& l) {
    side_range r;
    for (const layout_tile& t : l.tiles) {
        r.smallest = std::min({r.smallest, t.core.w, t.core.h});
        r.largest = std::max({r.largest, t.core.w, t.core.h});
    }
    return r;
}

std::int64_t leaves_of_side(const layout& l, std::int64_t side) {
    return std::count_if(l.tiles.begin(), l.tiles.end(),
                         [&](const layout_tile& t) { return t.core.w == side && t.core.h == side; });
}

/// Every property build_model_tiles promises, checked independently of its code.
void check_model_tiles(const layout& fine, const layout& model, const model_tile_options& o) {
    REQUIRE_NOTHROW(validate(model));
    CHECK(model.width == fine.width);
    CHECK(model.height == fine.height);
    CHECK(model.latent_scale == fine.latent_scale);
    std::vector<int> owners(static_cast<std::size_t>(model.width * model.height), 0);
    const host_tensor painted = quadflow::policy::paint_strength_map(fine);
    const std::int64_t s = model.latent_scale;
    for (const layout_tile& t : model.tiles) {
        CAPTURE(to_string(t.core));
        for (std::int64_t y = t.core.y; y < t.core.bottom(); ++y)
            for (std::int64_t x = t.core.x; x < t.core.right(); ++x)
                ++owners[static_cast<std::size_t>(y * model.width + x)];
        CHECK(t.core.w >= std::min(o.min_tile, model.width));
        CHECK(t.core.h >= std::min(o.min_tile, model.height));
        CHECK(t.core.w <= o.max_tile);
        CHECK(t.core.h <= o.max_tile);
        CHECK(t.core.x % o.align == 0);
        CHECK(t.core.y % o.align == 0);
        if (t.core.right() < model.width || model.width % o.align == 0) CHECK(t.core.w % o.align == 0);
        if (t.core.bottom() < model.height || model.height % o.align == 0) CHECK(t.core.h % o.align == 0);
        CHECK(t.pixel_core == rect{t.core.x * s, t.core.y * s, t.core.w * s, t.core.h * s});
        const std::int64_t pad = std::min({t.core.w / 2, t.core.h / 2, o.overlap_latent});
        CHECK(t.padded == rect{t.core.x - pad, t.core.y - pad, t.core.w + 2 * pad, t.core.h + 2 * pad});
        float largest = 0.0f;
        for (std::int64_t y = t.core.y; y < t.core.bottom(); ++y)
            for (std::int64_t x = t.core.x; x < t.core.right(); ++x) largest = std::max(largest, painted(0, 0, y, x));
        CHECK(static_cast<float>(t.strength) == largest);
        // A tile stops splitting only when its core lies in one fine tile or neither axis can halve above min_tile.
        const bool one_fine_tile = std::any_of(fine.tiles.begin(), fine.tiles.end(), [&](const layout_tile& f) {
            return f.core.x <= t.core.x && f.core.y <= t.core.y && f.core.right() >= t.core.right() &&
                   f.core.bottom() >= t.core.bottom();
        });
        const bool can_halve =
            t.core.w / 2 / o.align * o.align >= o.min_tile || t.core.h / 2 / o.align * o.align >= o.min_tile;
        CHECK((one_fine_tile || !can_halve));
    }
    CHECK(std::all_of(owners.begin(), owners.end(), [](int n) { return n == 1; }));
}

std::string demo_photo() { return std::string(QUADFLOW_SOURCE_DIR) + "/apps/quadflow/data/astronaut.png"; }

}  // namespace

TEST_CASE("model tiles over quadtrees of busy patches keep every promise") {
    struct example {
        std::int64_t w, h;
        rect busy;
        model_tile_options o;
    };
    const std::vector<example> examples_ = {
        {512, 512, {100, 140, 200, 150}, {}},
        {600, 333, {0, 0, 300, 333}, {}},                // sides not multiples of align or of 64
        {1000, 130, {400, 0, 200, 130}, {}},             // a strip: one axis never splits
        {333, 257, {50, 50, 100, 100}, {16, 40, 3, 5}},  // odd alignment; max 40 >= 2 * 18 - 1
        {300, 300, {0, 0, 300, 300}, {8, 15, 1, 2}},     // max at its smallest: 2 * 8 - 1
        {257, 129, {64, 32, 64, 64}, {10, 64, 8, 8}},    // min below align: halves are >= 16
        {200, 50, {0, 0, 200, 50}, {64, 128, 2, 8}},     // height below min_tile: tiles span it
    };
    for (const example& e : examples_) {
        CAPTURE(e.w);
        CAPTURE(e.h);
        CAPTURE(e.o.min_tile);
        quadtree_options q;
        q.latent_scale = 1;
        q.align = 1;
        q.min_tile_size = 2;
        q.overlap_pixels = 4;
        const layout fine = build_quadtree(busy_patch(e.w, e.h, e.busy, 5).view(), q);
        const layout model = build_model_tiles(fine, e.o);
        CHECK(fine.tiles.size() > model.tiles.size());
        check_model_tiles(fine, model, e.o);
    }
}

TEST_CASE("model tiles split where the content is and stay whole where it is flat") {
    quadtree_options q;
    q.latent_scale = 1;
    q.overlap_pixels = 8;
    // 512 x 256 px, busy only in the top-left 256 x 128 (a root child of the fine tree): forced splits down to
    // 128 x 128, then only the two busy ones split, into 64 x 64.
    const layout fine = build_quadtree(busy_patch(512, 256, {0, 0, 256, 128}, 4).view(), q);
    const layout model = build_model_tiles(fine);
    check_model_tiles(fine, model, {});
    CHECK(leaves_of_side(model, 64) == 8);
    CHECK(leaves_of_side(model, 128) == 6);
    CHECK(model.tiles.size() == 14);
    CHECK(model.tiles[0].core == rect{0, 0, 64, 64});
    CHECK(model.tiles[0].depth == 3);
    CHECK(model.tiles.back().core == rect{384, 128, 128, 128});
    CHECK(model.tiles.back().depth == 2);
    CHECK(model.tiles.back().strength == doctest::Approx(fine.tiles.back().strength));
}

TEST_CASE("a canvas smaller than min_tile is one tile") {
    quadtree_options q;
    q.latent_scale = 1;
    q.align = 1;
    q.min_tile_size = 1;
    const layout fine = build_quadtree(busy_patch(40, 20, {0, 0, 40, 20}, 1).view(), q);
    REQUIRE(fine.tiles.size() > 100);
    const layout model = build_model_tiles(fine);
    REQUIRE(model.tiles.size() == 1);
    CHECK(model.tiles[0].core == rect{0, 0, 40, 20});
    CHECK(model.tiles[0].padded == rect{-8, -8, 56, 36});
    double largest = 0;
    for (const layout_tile& t : fine.tiles) largest = std::max(largest, t.strength);
    CHECK(model.tiles[0].strength == largest);
    check_model_tiles(fine, model, {});
}

TEST_CASE("on the demo photo at latent scale 8 the seed's 1x1-latent leaves become no model tile below min_tile") {
    const app::rgb_image photo = app::load_rgb(demo_photo());
    const layout fine = build_quadtree(photo.view(), quadtree_options{});  // the seed's tree
    REQUIRE(fine.latent_scale == 8);
    CHECK(leaves_of_side(fine, 1) > 1000);
    CHECK(core_sides(fine).smallest == 1);

    const layout whole = build_model_tiles(fine);  // 64 x 64 latent: the canvas is one model tile
    REQUIRE(whole.tiles.size() == 1);
    CHECK(whole.tiles[0].core == rect{0, 0, 64, 64});
    check_model_tiles(fine, whole, {});

    const model_tile_options small{16, 32, 2, 4};
    const layout model = build_model_tiles(fine, small);
    CHECK(core_sides(model).smallest == 16);
    CHECK(core_sides(model).largest <= 32);
    CHECK(model.tiles.size() < fine.tiles.size() / 50);
    check_model_tiles(fine, model, small);
}

TEST_CASE("build_model_tiles is fast on a 16K px canvas") {
    // 2048 x 2048 latent (16K px at latent scale 8) in fine tiles of 4 x 4 latent: 262144 fine tiles.
    layout fine;
    fine.width = fine.height = 2048;
    for (std::int64_t y = 0; y < 2048; y += 4)
        for (std::int64_t x = 0; x < 2048; x += 4) {
            layout_tile t;
            t.core = t.padded = {x, y, 4, 4};
            t.id = static_cast<std::int64_t>(fine.tiles.size());
            t.strength = static_cast<double>((x + y) / 4 % 5) / 4.0;
            fine.tiles.push_back(t);
        }
    const layout model = build_model_tiles(fine);
    CHECK(model.tiles.size() == 32 * 32);
    CHECK(core_sides(model).smallest == 64);
    CHECK(core_sides(model).largest == 64);
}

TEST_CASE("bad model tile options name the field and its value") {
    const layout fine = build_quadtree(busy_patch(128, 128, {0, 0, 64, 64}, 4).view(), [] {
        quadtree_options q;
        q.latent_scale = 1;
        return q;
    }());
    struct bad {
        model_tile_options o;
        std::string text;
    };
    const std::vector<bad> cases = {
        {{0, 128, 2, 8}, "min_tile = 0: must be in [1, "},
        {{-3, 128, 2, 8}, "min_tile = -3"},
        {{64, 32, 2, 8}, "max_tile = 32: must be >= min_tile = 64"},
        {{64, 126, 2, 8}, "max_tile = 126: must be >= 127 = 2 * min_tile rounded up to align - 1"},
        {{63, 126, 2, 8}, "max_tile = 126: must be >= 127"},  // min_tile 63 rounds up to 64 on the align-2 grid
        {{64, 128, 0, 8}, "align = 0: must be in [1, "},
        {{64, 128, 2, -1}, "overlap_latent = -1: must be in [0, "},
    };
    for (const bad& b : cases) {
        CAPTURE(b.text);
        CHECK_THROWS_WITH_AS(validate(b.o), doctest::Contains(b.text.c_str()), invalid_argument);
        CHECK_THROWS_WITH_AS(build_model_tiles(fine, b.o), doctest::Contains(b.text.c_str()), invalid_argument);
    }
    CHECK_NOTHROW(validate(model_tile_options{63, 127, 2, 0}));
    layout empty_canvas = fine;
    empty_canvas.width = 0;
    CHECK_THROWS_WITH_AS(build_model_tiles(empty_canvas), doctest::Contains("fine.width = 0"), invalid_argument);
}

TEST_CASE("img2img with model tiles: the fine tree is the mask, the model sees model-sized tiles") {
    const app::rgb_image image = busy_patch(256, 192, {0, 0, 96, 96}, 4);
    app::img2img_settings s;  // the default: model tiles, the mask policy
    s.steps = 4;
    s.quadtree.min_strength = 0.0;
    REQUIRE(s.policy == "mask");
    REQUIRE(s.model_tiles.has_value());
    const app::img2img_result result = app::run_img2img(image, s);
    CHECK(result.layout.tiles.size() > 20);
    CHECK(result.report.fine_tiles == static_cast<std::int64_t>(result.layout.tiles.size()));
    CHECK(result.report.tiles == static_cast<std::int64_t>(result.model_layout.tiles.size()));
    CHECK(result.report.tiles < result.report.fine_tiles);
    CHECK(result.report.smallest_tile_side >= 64);
    check_model_tiles(result.layout, result.model_layout, *s.model_tiles);
    // Pixels of strength 0 in the fine tree's map stay the original.
    const host_tensor painted = quadflow::policy::paint_strength_map(result.layout);
    int kept = 0, worst = 0;
    for (std::int64_t y = 0; y < result.layout.height; ++y)
        for (std::int64_t x = 0; x < result.layout.width; ++x) {
            if (painted(0, 0, y, x) != 0.0f) continue;
            ++kept;
            const auto a = image.at(x, y), b = result.output.at(x, y);
            worst = std::max({worst, std::abs(a.r - b.r), std::abs(a.g - b.g), std::abs(a.b - b.b)});
        }
    CHECK(kept > 10000);
    CHECK(worst <= 1);
    CHECK(result.report.high_strength_change > 5.0);

    app::img2img_settings leaf_tiles = app::img2img_settings::leaf_tiles();
    leaf_tiles.policy = "mask";
    leaf_tiles.steps = s.steps;
    leaf_tiles.quadtree = s.quadtree;
    const app::img2img_result plain = app::run_img2img(image, leaf_tiles);
    CHECK(plain.report.tiles == plain.report.fine_tiles);
    CHECK(plain.report.tiles == result.report.fine_tiles);
    CHECK(plain.report.smallest_tile_side < 64);
}

TEST_CASE("img2img takes FLUX's shift from the model tile: a 4096 px image keeps the 128 px tile's schedule") {
    const app::rgb_image image = busy_patch(4096, 4096, {0, 0, 1024, 1024}, 32);
    app::img2img_settings s;  // model tiles of at most 128 px, the mask policy
    s.steps = 8;
    s.quadtree.min_strength = 0.0;
    REQUIRE(s.shift_from == app::shift_source::tile);
    const double tile_mu = quadflow::schedule::flux_mu(128, 128);
    const std::vector<double> expected = quadflow::schedule::flux_mu_schedule(8, tile_mu);
    const app::img2img_result tiled = app::run_img2img(image, s);
    CHECK(tiled.report.shift_width == 128);
    CHECK(tiled.report.shift_height == 128);
    CHECK(tiled.report.mu == tile_mu);
    CHECK(tiled.report.sigmas == expected);
    CHECK(tiled.report.sigmas[1] < 0.95);  // the canvas's shift would give 0.9999986
    CHECK(tiled.report.model_calls > 0);
    CHECK(tiled.report.high_strength_change > 5.0);
    CHECK(tiled.report.low_strength_error < 0.01);

    // The untiled reference keeps the tiled run's schedule; the analytic model is per pixel, so one canvas-sized
    // tile gives the same picture up to the blend's rounding.
    app::img2img_settings untiled = s;
    untiled.untiled = true;
    const app::img2img_result whole = app::run_img2img(image, untiled);
    CHECK(whole.report.sigmas == expected);
    CHECK(whole.report.tiles == 1);
    int worst = 0;
    for (std::int64_t y = 0; y < image.height; ++y)
        for (std::int64_t x = 0; x < image.width; ++x) {
            const auto a = tiled.output.at(x, y), b = whole.output.at(x, y);
            worst = std::max({worst, std::abs(a.r - b.r), std::abs(a.g - b.g), std::abs(a.b - b.b)});
        }
    CHECK(worst <= 1);
}

TEST_CASE("the canvas's shift collapses a large image's schedule, and one that cannot be built names the flag") {
    app::img2img_settings s;
    s.steps = 8;
    s.shift_from = app::shift_source::canvas;
    const app::img2img_schedule at_4096 = app::schedule_for(s, 4096, 4096);
    CHECK(at_4096.shift_width == 4096);
    CHECK(at_4096.mu == doctest::Approx(11.55));
    CHECK(at_4096.sigmas[1] > 0.99999);  // all the change would happen in the last step
    // The tile's shift stays at the canvas when the canvas is the smaller, and rounds down to FLUX's 16 px tokens.
    s.shift_from = app::shift_source::tile;
    const app::img2img_schedule small = app::schedule_for(s, 100, 300);
    CHECK(small.shift_width == 96);
    CHECK(small.shift_height == 128);
    // At latent scale 8 (a layout given on a larger image), sizes are image px: the canvas 64 latent px is 512 px,
    // a 128 latent px model tile 1024 px.
    CHECK(app::schedule_for(s, 64, 64, 8).shift_width == 512);
    CHECK(app::schedule_for(s, 256, 256, 8).shift_width == 1024);
    // Leaf tiles without a size limit: the model may see the whole canvas.
    app::img2img_settings leaves = app::img2img_settings::leaf_tiles();
    leaves.steps = 8;
    CHECK(app::schedule_for(leaves, 512, 512).shift_width == 512);
    leaves.quadtree.max_tile_size = 256;
    CHECK(app::schedule_for(leaves, 512, 512).shift_width == 256);

    s.shift_from = app::shift_source::canvas;
    try {
        (void)app::schedule_for(s, 8192, 8192);
        FAIL("an 8192 px canvas's shift gave a schedule");
    } catch (const invalid_argument& e) {
        const std::string message = e.what();
        CHECK(message.find("--shift-from = canvas (8192x8192 px)") != std::string::npos);
        CHECK(message.find("gives mu = 44.83, too large for a 8-step schedule") != std::string::npos);
        CHECK(message.find("use --shift-from tile") != std::string::npos);
    }
    s.shift_from = app::shift_source::tile;
    CHECK(app::schedule_for(s, 8192, 8192).sigmas ==
          quadflow::schedule::flux_mu_schedule(8, quadflow::schedule::flux_mu(128, 128)));
}
