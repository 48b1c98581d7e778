// Tests of per-tile conditioning: condition indices (tile/conditions.hpp) and batches that never mix them, the tile
// metadata a model gets, and auxiliary canvases cropped per tile with the latent's padding and reflection
// (field_options::auxiliary), bit-identical for any batch size, thread count, arena size and rank count.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "field_fixtures.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/distributed/communicator.hpp"
#include "quadflow/field/shape_batches.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/prediction/prediction.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/sample.hpp"
#include "quadflow/testing/conditioned_model.hpp"
#include "quadflow/tile/conditions.hpp"
#include "quadflow/tile/grid.hpp"
#include "thread_ranks.hpp"

using namespace quadflow;
using fixtures::grid_layout;
using fixtures::wavy;

namespace {

/// A control image at `scale` px per latent px of a W x H latent canvas: channel 0 is the latent-resolution image
/// `coarse` scaled up (nearest), channel 1 each pixel's sub-pixel position, x + 10 y within its latent pixel.
host_tensor control_image(const host_tensor& coarse, int scale) {
    const shape4 c = coarse.shape();
    host_tensor out(shape4{c.n, 2, c.h * scale, c.w * scale});
    for (std::int64_t n = 0; n < c.n; ++n)
        for (std::int64_t y = 0; y < c.h * scale; ++y)
            for (std::int64_t x = 0; x < c.w * scale; ++x) {
                out(n, 0, y, x) = coarse(n, 0, y / scale, x / scale);
                out(n, 1, y, x) = float(x % scale + 10 * (y % scale));
            }
    return out;
}

/// Records what each tile was given (metadata, crops) and predicts zero flow velocity.
struct probe_model {
    struct seen {
        model::tile_info info;
        model::canvas_info canvas;
        std::vector<host_tensor> crops;
    };
    std::map<std::pair<std::int64_t, std::int64_t>, seen> tiles;  ///< by (id, image)
    int mixed_batches = 0;
    prediction::kind prediction_kind() const { return prediction::kind::flow_velocity; }
    void operator()(const model::batch_request& r, mutable_view out) {
        for (std::size_t i = 0; i < r.tiles.size(); ++i) {
            if (r.tiles[i].condition != r.tiles[0].condition) ++mixed_batches;
            seen s{r.tiles[i], r.canvas, {}};
            for (const const_view& a : r.auxiliary) {
                const shape4 shape{1, a.shape().c, a.shape().h, a.shape().w};
                host_tensor crop(shape);
                std::memcpy(crop.data(), &a(static_cast<std::int64_t>(i), 0, 0, 0), sizeof(float) * shape.numel());
                s.crops.push_back(std::move(crop));
            }
            tiles[{r.tiles[i].id, r.tiles[i].image}] = std::move(s);
        }
        for (std::int64_t e = 0; e < out.numel(); ++e) out.data()[e] = 0.0f;
    }
};

/// conditioned_model, declaring that it takes mixed batches.
struct mixed_conditioned_model : testing::conditioned_model {
    using testing::conditioned_model::conditioned_model;
    static constexpr bool mixed_conditions = true;
};

bool same_bits(const host_tensor& a, const host_tensor& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.numel())) == 0;
}

}  // namespace

TEST_CASE("reflect_scaled_index: the latent pixel's reflection, sub-pixels mirrored in reflected pixels") {
    for (std::int64_t n : {1, 2, 5})
        for (std::int64_t s : {1, 3, 8})
            for (std::int64_t p = -3 * n * s; p < 4 * n * s; ++p) {
                CAPTURE(n);
                CAPTURE(s);
                CAPTURE(p);
                const std::int64_t q = reflect_scaled_index(p, n, s);
                REQUIRE((q >= 0 && q < n * s));
                const std::int64_t latent = p >= 0 ? p / s : -((-p + s - 1) / s);
                CHECK(q / s == reflect_index(latent, n));
                if (s == 1) CHECK(q == reflect_index(p, n));
                if (p >= 0 && p < n * s) CHECK(q == p);
            }
    // Latent pixel -1 (image pixels -8..-1) is latent pixel 1 mirrored: -1 -> 8, -8 -> 15; past the right edge of a
    // 5-pixel canvas, latent pixel 5 is pixel 3 mirrored: 40 -> 31, 47 -> 24.
    CHECK(reflect_scaled_index(-1, 5, 8) == 8);
    CHECK(reflect_scaled_index(-8, 5, 8) == 15);
    CHECK(reflect_scaled_index(40, 5, 8) == 31);
    CHECK(reflect_scaled_index(47, 5, 8) == 24);
    CHECK(scaled(rect{-1, 2, 3, 4}, 8) == rect{-8, 16, 24, 32});
}

TEST_CASE("assign_conditions: the label covering most of a tile's core, the smaller on ties; callbacks; depth") {
    tile::layout l = grid_layout(2, 2, 4, 1, {1.0});  // 8 x 8 latent px, 64 x 64 image px, cores of 32 x 32 px
    std::vector<std::int32_t> labels(64 * 64);
    for (std::int64_t y = 0; y < 64; ++y)
        for (std::int64_t x = 0; x < 64; ++x) {
            std::int32_t label = x < 40 ? 1 : 0;             // the right column is mostly 0
            if (y >= 32 && x >= 32) label = x < 48 ? 3 : 2;  // bottom right: 3 and 2 tie
            labels[static_cast<std::size_t>(y * 64 + x)] = label;
        }
    tile::assign_conditions(l, tile::label_image{labels, 64, 64});
    CHECK(l.tiles[0].condition == 1);
    CHECK(l.tiles[1].condition == 0);
    CHECK(l.tiles[2].condition == 1);
    CHECK(l.tiles[3].condition == 2);
    CHECK_THROWS_WITH_AS(tile::assign_conditions(l, tile::label_image{labels, 32, 128}),
                         "label image is 32x128 px but the layout's image is 64x64 px", shape_error);
    labels[0] = -1;
    CHECK_THROWS_WITH_AS(tile::assign_conditions(l, tile::label_image{labels, 64, 64}),
                         "labels at pixel (x=0, y=0) = -1: must be >= 0 (a condition index)", invalid_argument);

    tile::assign_conditions(l, [](const tile::layout_tile& t) { return static_cast<std::int32_t>(t.id % 3); });
    CHECK(l.tiles[3].condition == 0);
    CHECK(l.tiles[2].condition == 2);
    CHECK_THROWS_WITH_AS(tile::assign_conditions(l, [](const tile::layout_tile&) { return -2; }),
                         "condition of tile 0 = -2: must be >= 0", invalid_argument);

    tile::layout q = fixtures::small_quadtree();
    const std::vector<std::int32_t> by_depth{0, 0, 5};
    tile::assign_conditions_by_depth(q, by_depth);
    bool both = false;
    for (const tile::layout_tile& t : q.tiles) {
        CHECK(t.condition == (t.depth >= 2 ? 5 : 0));
        both = both || t.depth >= 2;
    }
    CHECK(both);
    CHECK_THROWS_WITH_AS(tile::assign_conditions_by_depth(q, {}), "by_depth.size() = 0: must be >= 1",
                         invalid_argument);
    const std::vector<std::int32_t> negative{0, -1};
    CHECK_THROWS_WITH_AS(tile::assign_conditions_by_depth(q, negative), "by_depth[1] = -1: must be >= 0",
                         invalid_argument);
    q.tiles[1].condition = -1;
    CHECK_THROWS_WITH_AS(tile::validate(q), "layout.tiles[1].condition = -1: must be >= 0", invalid_argument);
}

TEST_CASE("make_shape_batches: tiles of one condition per batch, unless conditions may mix") {
    tile::layout l = grid_layout(4, 1, 4, 1, {1.0});
    for (tile::layout_tile& t : l.tiles) t.condition = static_cast<std::int32_t>(t.id % 2);
    const std::vector<field::shape_batch> separate = field::make_shape_batches(l, 4);
    REQUIRE(separate.size() == 2);
    CHECK(separate[0].tiles == std::vector<std::int64_t>{0, 2});
    CHECK(separate[0].condition == 0);
    CHECK(separate[1].tiles == std::vector<std::int64_t>{1, 3});
    CHECK(separate[1].condition == 1);
    const std::vector<field::shape_batch> mixed = field::make_shape_batches(l, 4, field::condition_mixing::mixed);
    REQUIRE(mixed.size() == 1);
    CHECK(mixed[0].tiles == std::vector<std::int64_t>{0, 1, 2, 3});
    CHECK(mixed[0].condition == -1);
}

TEST_CASE("the field hands each tile its metadata and its crops of the auxiliary canvases, reflected as the latent") {
    // 3 x 2 tiles of 4 latent px with 2 px of overlap on a 12 x 8 latent canvas at 8 px per latent px: padded tiles
    // reach 2 latent px (16 image px) past every edge.
    tile::layout l = grid_layout(3, 2, 4, 2, {1.0});
    for (tile::layout_tile& t : l.tiles) t.condition = static_cast<std::int32_t>(t.id % 3);
    const shape4 canvas{2, 3, 8, 12};
    const host_tensor coarse = wavy(shape4{2, 1, 8, 12}, 1.0f, 0.4f);
    const host_tensor control = control_image(coarse, 8);                   // image resolution, N = 2
    const host_tensor latent_mask = wavy(shape4{1, 1, 8, 12}, 1.0f, 1.3f);  // latent resolution, N = 1
    field::field_options options;
    options.tile_batch_size = 4;
    options.auxiliary = {{control.cview(), 8}, {latent_mask.cview(), 1}};
    probe_model probe;
    field::tiled_field field(probe, l, canvas, policy::scale{}, options);
    const host_tensor x = wavy(canvas, 1.0f, 0.9f);
    host_tensor v(canvas);
    field.on_step(0, 0.5, 0.25);
    field(x.cview(), 0.5, v.view());
    CHECK(probe.mixed_batches == 0);
    REQUIRE(probe.tiles.size() == 12);
    for (const auto& [key, seen] : probe.tiles) {
        const auto [id, image] = key;
        CAPTURE(id);
        CAPTURE(image);
        const tile::layout_tile& t = l.tiles[static_cast<std::size_t>(id)];
        CHECK(seen.info.padded == t.padded);
        CHECK(seen.info.core == t.core);
        CHECK(seen.info.padded_pixels == rect{t.padded.x * 8, t.padded.y * 8, t.padded.w * 8, t.padded.h * 8});
        CHECK(seen.info.core_pixels == t.pixel_core);
        CHECK(seen.info.condition == t.condition);
        CHECK(seen.canvas.width == 12);
        CHECK(seen.canvas.height == 8);
        CHECK(seen.canvas.latent_scale == 8);
        REQUIRE(seen.crops.size() == 2);
        const host_tensor& crop = seen.crops[0];
        REQUIRE(crop.shape() == shape4{1, 2, t.padded.h * 8, t.padded.w * 8});
        int mismatches = 0;
        for (std::int64_t yy = 0; yy < crop.shape().h; ++yy)
            for (std::int64_t xx = 0; xx < crop.shape().w; ++xx) {
                const std::int64_t ly = t.padded.y + yy / 8, lx = t.padded.x + xx / 8;
                // Channel 0: the latent-resolution image at the latent's reflected pixel.
                if (crop(0, 0, yy, xx) != coarse(image, 0, reflect_index(ly, 8), reflect_index(lx, 12))) ++mismatches;
                // Channel 1: sub-pixel positions, mirrored in the reflected latent pixels.
                const std::int64_t sx = (lx < 0 || lx >= 12) ? 7 - xx % 8 : xx % 8;
                const std::int64_t sy = (ly < 0 || ly >= 8) ? 7 - yy % 8 : yy % 8;
                if (crop(0, 1, yy, xx) != float(sx + 10 * sy)) ++mismatches;
            }
        CHECK(mismatches == 0);
        const host_tensor& mask_crop = seen.crops[1];
        REQUIRE(mask_crop.shape() == shape4{1, 1, t.padded.h, t.padded.w});
        for (std::int64_t yy = 0; yy < t.padded.h; ++yy)
            for (std::int64_t xx = 0; xx < t.padded.w; ++xx)
                if (mask_crop(0, 0, yy, xx) !=
                    latent_mask(0, 0, reflect_index(t.padded.y + yy, 8), reflect_index(t.padded.x + xx, 12)))
                    ++mismatches;
        CHECK(mismatches == 0);
    }
}

TEST_CASE("conditioned_model through the field: every pixel gets its tile's condition and its control pixel") {
    // No overlap, so each pixel's velocity is its one tile's prediction.
    tile::layout l = grid_layout(3, 2, 4, 0, {1.0});
    for (tile::layout_tile& t : l.tiles) t.condition = static_cast<std::int32_t>((t.id * 2) % 3);
    const shape4 canvas{1, 3, 8, 12};
    const host_tensor control = control_image(wavy(shape4{1, 1, 8, 12}, 1.0f, 2.2f), 8);
    const std::vector<std::vector<float>> colours{{1.0f, 0.0f, 0.0f}, {0.0f, 1.0f, 0.0f}, {0.0f, 0.0f, 1.0f}};
    testing::conditioned_model model(colours, 0.5f);
    field::field_options options;
    options.weights = blend::weight_params{blend::weight_kind::uniform, 0.01f};
    options.auxiliary = {{control.cview(), 8}};
    field::tiled_field field(model, l, canvas, policy::scale{}, options);
    const host_tensor x = wavy(canvas, 1.0f, 0.2f);
    host_tensor v(canvas);
    const double sigma = 0.6;
    field.on_step(0, sigma, 0.3);
    field(x.cview(), sigma, v.view());
    double worst = 0;
    for (const tile::layout_tile& t : l.tiles)
        for (std::int64_t c = 0; c < 3; ++c)
            for (std::int64_t y = t.core.y; y < t.core.bottom(); ++y)
                for (std::int64_t px = t.core.x; px < t.core.right(); ++px) {
                    const float x0 = colours[static_cast<std::size_t>(t.condition)][static_cast<std::size_t>(c)] +
                                     0.5f * control(0, std::min<std::int64_t>(c, 1), y * 8, px * 8);
                    const float expected =
                        prediction::to_flow_velocity(prediction::kind::denoised, x0, x(0, c, y, px), float(sigma));
                    worst = std::max(worst, double(std::abs(v(0, c, y, px) - expected)));
                }
    CHECK(worst <= 1e-6);
    CHECK(model.tiles_by_condition() == std::vector<std::int64_t>{2, 2, 2});
}

TEST_CASE("conditions and auxiliary canvases: bit-identical for any batch size, thread count, arena and rank count") {
    tile::layout l = fixtures::small_quadtree();  // latent scale 1, overlap 3: reflection at every edge
    tile::assign_conditions(l, [](const tile::layout_tile& t) { return static_cast<std::int32_t>(t.id % 3); });
    const shape4 canvas{1, 3, l.height, l.width};
    const host_tensor control = control_image(wavy(shape4{1, 1, l.height, l.width}, 1.0f, 0.5f), 4);
    const std::vector<std::vector<float>> colours{{0.5f, 0.1f, -0.2f}, {-0.4f, 0.6f, 0.2f}, {0.1f, -0.3f, 0.7f}};
    const std::vector<double> sigmas{1.0, 0.75, 0.5, 0.25, 0.0};
    auto run = [&](int batch, int threads, std::int64_t arena, std::shared_ptr<field::batch_exchange> exchange,
                   std::int64_t* calls = nullptr) {
        testing::conditioned_model model(colours, 0.3f);
        field::field_options options;
        options.tile_batch_size = batch;
        options.threads = threads;
        options.arena_elements = arena;
        options.exchange = std::move(exchange);
        options.auxiliary = {{control.cview(), 4}};
        field::tiled_field field(model, l, canvas, policy::scale{}, options);
        host_tensor x = wavy(canvas, 1.0f, 1.1f);
        sampler::euler euler;
        sampler::sample(euler, field, x.view(), sigmas);
        if (calls) *calls = field.stats().model_calls;
        return x;
    };
    std::int64_t separate_calls = 0;
    const host_tensor reference = run(4, 1, std::int64_t{1} << 19, nullptr, &separate_calls);
    for (int batch : {1, 3, 100})
        for (int threads : {1, 3})
            for (std::int64_t arena : {std::int64_t{1}, std::int64_t{1} << 19}) {
                CAPTURE(batch);
                CAPTURE(threads);
                CAPTURE(arena);
                CHECK(same_bits(run(batch, threads, arena, nullptr), reference));
            }
    for (int ranks : {2, 3}) {
        CAPTURE(ranks);
        std::vector<host_tensor> results(static_cast<std::size_t>(ranks));
        fixtures::run_ranks(ranks, [&](int rank, fixtures::thread_rank comm) {
            results[static_cast<std::size_t>(rank)] = run(4, 1, 1, distributed::make_exchange(comm));
        });
        for (const host_tensor& r : results) CHECK(same_bits(r, reference));
    }
    // A model that takes mixed batches gets fewer calls; the blend order differs, so equal to float rounding.
    mixed_conditioned_model mixed(colours, 0.3f);
    field::field_options options;
    options.auxiliary = {{control.cview(), 4}};
    field::tiled_field field(mixed, l, canvas, policy::scale{}, options);
    host_tensor x = wavy(canvas, 1.0f, 1.1f);
    sampler::euler euler;
    sampler::sample(euler, field, x.view(), sigmas);
    CHECK(field.stats().model_calls < separate_calls);
    double worst = 0;
    for (std::int64_t i = 0; i < x.numel(); ++i)
        worst = std::max(worst, double(std::abs(x.data()[i] - reference.data()[i])));
    CHECK(worst <= 1e-5);
}

TEST_CASE("auxiliary canvases: errors name the canvas, its shape and scale") {
    const tile::layout l = grid_layout(2, 1, 4, 1, {1.0});
    const shape4 canvas{1, 3, 4, 8};
    probe_model probe;
    auto build = [&](const_view data, int scale) {
        field::field_options options;
        options.auxiliary = {{data, scale}};
        field::tiled_field field(probe, l, canvas, policy::scale{}, options);
    };
    const host_tensor good(shape4{1, 1, 32, 64}), short_rows(shape4{1, 1, 31, 64}), two_images(shape4{2, 1, 32, 64});
    CHECK_NOTHROW(build(good.cview(), 8));
    CHECK_THROWS_WITH_AS(build(short_rows.cview(), 8),
                         "auxiliary[0].data has shape [1, 1, 31, 64] but needs [1 or 1, C, 32, 64] (the canvas times "
                         "scale 8, 1 <= C <= 65535)",
                         shape_error);
    CHECK_THROWS_AS(build(two_images.cview(), 8), shape_error);
    CHECK_THROWS_WITH_AS(build(good.cview(), 0), "auxiliary[0].scale = 0: must be in [1, 64]", invalid_argument);
    CHECK_THROWS_WITH_AS(build(const_view{}, 8), "auxiliary[0].data = null: must be an image", invalid_argument);
    const const_view on_device(good.data(), good.shape(), memory_space::device);
    CHECK_THROWS_WITH_AS(build(on_device, 8), "auxiliary[0].data memory = device: must be the field's: host",
                         invalid_argument);
}
