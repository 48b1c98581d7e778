// Tests of the bad-input audit (docs/errors.md): each bad input gets an error of the documented type whose
// message names the parameter and its value. Cases already covered elsewhere are listed in docs/errors.md with
// the test that covers them; the ones here are the rest.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "field_fixtures.hpp"
#include "quadflow/quadflow.hpp"
#include "quadflow/tile/tile.hpp"
#include "quadflow_app/image_io.hpp"

using namespace quadflow;
using fixtures::grid_layout;
using fixtures::wavy;

namespace {

constexpr shape4 canvas{1, 3, 16, 16};
constexpr float not_a_number = std::numeric_limits<float>::quiet_NaN();
constexpr float infinity = std::numeric_limits<float>::infinity();

doctest::Contains contains(const std::string& text) { return doctest::Contains(text.c_str()); }

field::field_options options_with(std::vector<double> sigmas) {
    field::field_options o;
    o.sigmas = std::move(sigmas);
    return o;
}

const std::vector<double> four_steps = {1.0, 0.75, 0.5, 0.25, 0.0};

/// A model whose output is 0.5 * x: finite whenever its input is.
auto half_model() {
    return model::make_model(prediction::kind::flow_velocity, [](const model::batch_request& r, mutable_view out) {
        for (std::int64_t b = 0; b < out.shape().n; ++b)
            for (std::int64_t c = 0; c < out.shape().c; ++c)
                for (std::int64_t y = 0; y < out.shape().h; ++y)
                    for (std::int64_t x = 0; x < out.shape().w; ++x) out(b, c, y, x) = 0.5f * r.x(b, c, y, x);
    });
}

struct cancelled_by_user : std::runtime_error {
    cancelled_by_user() : std::runtime_error("cancelled by the user") {}
};

}  // namespace

// ---- tensors ------------------------------------------------------------------------------------------------

TEST_CASE("a tensor with a negative extent") {
    CHECK_THROWS_WITH_AS(host_tensor(shape4{1, -2, 4, 4}),
                         doctest::Contains("host_tensor.shape = [1, -2, 4, 4]: every extent must be >= 0"),
                         invalid_argument);
}

TEST_CASE("a tensor whose element count overflows 64 bits") {
    const std::int64_t huge = std::int64_t{1} << 20;
    CHECK_THROWS_WITH_AS(host_tensor(shape4{huge, huge, huge, huge}),
                         doctest::Contains("host_tensor.shape = [1048576, 1048576, 1048576, 1048576]: the element "
                                           "count overflows 64 bits"),
                         invalid_argument);
    float one = 0.0f;
    CHECK_THROWS_WITH_AS(const_view(&one, shape4{huge, huge, huge, 16}),
                         doctest::Contains("tensor_view.shape = [1048576, 1048576, 1048576, 16]"), invalid_argument);
    CHECK_NOTHROW(const_view(nullptr, shape4{huge, huge, huge, 0}));  // empty: no memory needed
}

TEST_CASE("a misaligned float pointer") {
    alignas(float) unsigned char bytes[4 * sizeof(float) + 1] = {};
    const auto* misaligned = reinterpret_cast<const float*>(bytes + 1);
    std::string address = detail::to_text(static_cast<const void*>(misaligned));
    CHECK_THROWS_WITH_AS(const_view(misaligned, shape4{1, 1, 2, 2}),
                         contains("tensor_view.data = " + address + ": must be aligned to alignof(float) = 4 bytes"),
                         invalid_argument);
}

// ---- schedules ----------------------------------------------------------------------------------------------

TEST_CASE("more steps than a schedule may have") {
    CHECK_THROWS_WITH_AS(schedule::flux(2000000, 1024, 1024),
                         doctest::Contains("steps = 2000000: must be <= max_steps = 1048576"), invalid_argument);
}

TEST_CASE("a KSampler denoise so small that the stretched schedule is too long") {
    CHECK_THROWS_WITH_AS(
        schedule::comfy_denoise([](int n) { return schedule::comfy_simple(n); }, 20, 1e-5),
        doctest::Contains("denoise = 1e-05: too small: int(steps / denoise) = 1999999 steps is more than max_steps"),
        invalid_argument);
}

// ---- samplers and the tiled field -----------------------------------------------------------------------------

TEST_CASE("NaN in the starting canvas handed to sample()") {
    host_tensor x(shape4{1, 1, 2, 2}, 0.5f);
    x(0, 0, 1, 1) = not_a_number;
    sampler::constant_velocity field{1.0f};
    sampler::euler s;
    CHECK_THROWS_WITH_AS(sampler::sample(s, field, x.view(), four_steps),
                         doctest::Contains("x[3] = nan: the starting canvas must be finite"), invalid_argument);
}

TEST_CASE("NaN or Inf in the canvas state handed to the tiled field") {
    const auto layout = grid_layout(2, 2, 8, 2, {1.0});
    auto model = half_model();
    field::tiled_field f(model, layout, canvas, policy::scale{}, options_with(four_steps));
    host_tensor x = wavy(canvas, 1.0f, 0.4f), v(canvas);
    f.on_step(1, 0.75, 0.5);
    x.span()[70] = infinity;
    CHECK_THROWS_WITH_AS(f(x.cview(), 0.75, v.view()),
                         doctest::Contains("x[70] = inf: the canvas state handed to the field at step 1, sigma 0.75 "
                                           "must be finite"),
                         invalid_argument);
    x.span()[70] = 0.0f;
    x.span()[5] = -not_a_number;
    CHECK_THROWS_WITH_AS(f(x.cview(), 0.75, v.view()), doctest::Contains("x[5] = -nan"), invalid_argument);
}

TEST_CASE("NaN in the canvas state is found whether or not every tile reaches the model, in any chunk") {
    // With every tile sent to the model and little overlap the gather's copy checks the canvas; with tiles
    // that skip the model, or padded tiles covering the canvas more than twice, one pass does. Either way the
    // error names the first bad element, before a model call sees it.
    const host_tensor original = wavy(canvas, 0.5f, 0.9f);
    for (const std::int64_t overlap : {0, 1, 2})
        for (const bool skip_some : {false, true})
            for (const std::int64_t arena : {std::int64_t{1} << 20, std::int64_t{200}}) {
                const auto layout = grid_layout(4, 4, 4, overlap, {1.0, 0.2});
                CAPTURE(overlap);
                CAPTURE(skip_some);
                CAPTURE(arena);
                bool saw_non_finite = false;
                auto model = model::make_model(prediction::kind::flow_velocity,
                                               [&](const model::batch_request& r, mutable_view out) {
                                                   for (std::int64_t i = 0; i < r.x.numel(); ++i) {
                                                       saw_non_finite |= !std::isfinite(r.x.data()[i]);
                                                       out.data()[i] = 0.5f * r.x.data()[i];
                                                   }
                                               });
                auto options = options_with(four_steps);
                options.arena_elements = arena;
                policy::skip skip;
                skip.strength_at_most = skip_some ? 0.5f : -1.0f;
                field::tiled_field f(model, layout, canvas, skip, options, original.cview());
                host_tensor x = wavy(canvas, 1.0f, 0.4f), v(canvas);
                f.on_step(1, 0.75, 0.5);
                f(x.cview(), 0.75, v.view());             // finite: no error
                const std::int64_t last = x.numel() - 1;  // in the last tile, so in the last chunk
                x.span()[static_cast<std::size_t>(last)] = not_a_number;
                x.span()[static_cast<std::size_t>(last - 3)] = -infinity;
                CHECK_THROWS_WITH_AS(f(x.cview(), 0.75, v.view()),
                                     contains("x[" + std::to_string(last - 3) +
                                              "] = -inf: the canvas state handed to the "
                                              "field at step 1, sigma 0.75 must be finite"),
                                     invalid_argument);
                CHECK_FALSE(saw_non_finite);
            }
}

TEST_CASE("NaN in the canvas state handed to the untiled canvas field") {
    auto model = half_model();
    field::canvas_field f(model);
    host_tensor x(shape4{1, 2, 3, 3}, 0.25f), v(shape4{1, 2, 3, 3});
    x(0, 1, 2, 0) = not_a_number;
    CHECK_THROWS_WITH_AS(f(x.cview(), 0.5, v.view()),
                         doctest::Contains("x[15] = nan: the canvas state handed to the field must be finite"),
                         invalid_argument);
}

TEST_CASE("a model that returns Inf through the untiled canvas field") {
    auto broken = model::make_model(prediction::kind::denoised, [](const model::batch_request&, mutable_view out) {
        for (float& e : out.span()) e = 0.0f;
        out(0, 0, 1, 1) = infinity;
    });
    field::canvas_field f(broken);
    host_tensor x(shape4{1, 1, 2, 2}, 0.25f), v(shape4{1, 1, 2, 2});
    f.on_step(2, 0.5, 0.25);
    CHECK_THROWS_WITH_AS(f(x.cview(), 0.5, v.view()),
                         doctest::Contains("model output gives a non-finite flow velocity (-inf) at step 2, sigma 0.5, "
                                           "element 3"),
                         model_error);
}

TEST_CASE("an original latent with Inf") {
    const auto layout = grid_layout(2, 2, 8, 0, {0.5});
    auto model = half_model();
    host_tensor original = wavy(canvas, 1.0f, 0.3f);
    original(0, 2, 15, 15) = -infinity;
    CHECK_THROWS_WITH_AS(
        field::tiled_field(model, layout, canvas, policy::strength{}, options_with(four_steps), original.cview()),
        doctest::Contains("original[767] = -inf: the original latent must be finite"), invalid_argument);
}

TEST_CASE("a mask (strength map) with NaN") {
    const auto layout = grid_layout(2, 2, 8, 0, {0.5});
    auto model = half_model();
    const host_tensor original = wavy(canvas, 1.0f, 0.3f);
    host_tensor mask(shape4{1, 1, 16, 16}, 0.5f);
    mask(0, 0, 0, 7) = not_a_number;
    CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, canvas, policy::mask{}, options_with(four_steps),
                                            original.cview(), mask.cview()),
                         doctest::Contains("strength_map[7] = nan: must be in [0, 1]"), invalid_argument);
}

TEST_CASE("mismatched batch sizes: canvas, original, mask and x") {
    const auto layout = grid_layout(2, 2, 8, 0, {0.5});
    auto model = half_model();
    constexpr shape4 two{2, 3, 16, 16};
    const host_tensor one_original = wavy(canvas, 1.0f, 0.3f), two_originals = wavy(two, 1.0f, 0.3f);
    CHECK_THROWS_WITH_AS(
        field::tiled_field(model, layout, two, policy::strength{}, options_with(four_steps), one_original.cview()),
        doctest::Contains("original has shape [1, 3, 16, 16] but the canvas has shape [2, 3, 16, 16]"), shape_error);
    const host_tensor three_masks(shape4{3, 1, 16, 16}, 0.5f);
    CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, two, policy::mask{}, options_with(four_steps),
                                            two_originals.cview(), three_masks.cview()),
                         doctest::Contains("strength_map has shape [3, 1, 16, 16] but the canvas [2, 3, 16, 16] needs "
                                           "[1 or N, 1, H, W]"),
                         shape_error);
    field::tiled_field f(model, layout, two, policy::scale{}, options_with(four_steps));
    host_tensor x(canvas), v(canvas);
    f.on_step(0, 1.0, 0.75);
    CHECK_THROWS_WITH_AS(
        f(x.cview(), 1.0, v.view()),
        doctest::Contains("x has shape [1, 3, 16, 16] but the field's canvas has shape [2, 3, 16, 16]"), shape_error);
}

TEST_CASE("a sigma of 0 or above 1 handed to the tiled field") {
    const auto layout = grid_layout(2, 2, 8, 0, {0.5});
    auto model = half_model();
    field::tiled_field f(model, layout, canvas, policy::scale{}, options_with(four_steps));
    host_tensor x(canvas), v(canvas);
    f.on_step(0, 1.0, 0.75);
    CHECK_THROWS_WITH_AS(f(x.cview(), 0.0, v.view()), doctest::Contains("sigma = 0: must be in (0, 1]"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(f(x.cview(), 1.5, v.view()), doctest::Contains("sigma = 1.5: must be in (0, 1]"),
                         invalid_argument);
}

TEST_CASE("field options out of range: tile_batch_size, arena_elements, pool_spin, weights.variance, sigmas") {
    const auto layout = grid_layout(2, 2, 8, 2, {0.5});
    auto model = half_model();
    auto o = options_with(four_steps);
    o.tile_batch_size = 0;
    CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, canvas, policy::scale{}, o),
                         doctest::Contains("tile_batch_size = 0: must be >= 1"), invalid_argument);
    o = options_with(four_steps);
    o.arena_elements = 0;
    CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, canvas, policy::scale{}, o),
                         doctest::Contains("arena_elements = 0: must be >= 1"), invalid_argument);
    o = options_with(four_steps);
    o.pool_spin = std::chrono::microseconds{-1};
    CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, canvas, policy::scale{}, o),
                         doctest::Contains("pool_spin = -1: must be >= 0 microseconds"), invalid_argument);
    o = options_with(four_steps);
    o.weights.variance = 0.0f;
    CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, canvas, policy::scale{}, o),
                         doctest::Contains("weights.variance = 0: must be finite and > 0"), invalid_argument);
    o = options_with({1.0, 0.5, 0.75, 0.0});
    CHECK_THROWS_WITH_AS(field::tiled_field(model, layout, canvas, policy::scale{}, o),
                         doctest::Contains("sigmas[2] = 0.75: the schedule must strictly decrease"), invalid_argument);
}

// ---- layouts --------------------------------------------------------------------------------------------------

TEST_CASE("a layout with zero tiles") {
    tile::layout empty;
    empty.width = 16;
    empty.height = 16;
    auto model = half_model();
    CHECK_THROWS_WITH_AS(field::tiled_field(model, empty, canvas, policy::scale{}, options_with(four_steps)),
                         doctest::Contains("layout.tiles.size() = 0: a layout needs at least one tile"),
                         invalid_argument);
}

TEST_CASE("a degenerate tile: an empty core") {
    auto layout = grid_layout(2, 2, 8, 0, {0.5});
    layout.tiles[1].core.w = 0;
    CHECK_THROWS_WITH_AS(tile::validate(layout),
                         doctest::Contains("layout.tiles[1].core = (x=8, y=0, w=0, h=8): must be non-empty and inside "
                                           "the canvas 16x16"),
                         invalid_argument);
}

TEST_CASE("a tile whose id is not its index") {
    auto layout = grid_layout(2, 2, 8, 0, {0.5});
    layout.tiles[3].id = 7;
    CHECK_THROWS_WITH_AS(tile::validate(layout), doctest::Contains("layout.tiles[3].id = 7: must equal its index"),
                         invalid_argument);
}

TEST_CASE("a layout canvas of zero or more than max_layout_side pixels") {
    auto layout = grid_layout(1, 1, 8, 0, {0.5});
    layout.width = 0;
    CHECK_THROWS_WITH_AS(tile::validate(layout),
                         doctest::Contains("layout.width = 0: must be in [1, 16777216] (max_layout_side)"),
                         invalid_argument);
    layout.width = std::int64_t{1} << 40;
    CHECK_THROWS_WITH_AS(tile::validate(layout), doctest::Contains("layout.width = 1099511627776"), invalid_argument);
}

TEST_CASE("a tile whose rectangles would overflow") {
    auto layout = grid_layout(1, 1, 8, 0, {0.5});
    layout.tiles[0].core.x = std::numeric_limits<std::int64_t>::max();
    CHECK_THROWS_WITH_AS(tile::validate(layout), doctest::Contains("layout.tiles[0].core = (x=9223372036854775807"),
                         invalid_argument);
    layout = grid_layout(1, 1, 8, 0, {0.5});
    layout.tiles[0].padded = rect{-4, 0, std::numeric_limits<std::int64_t>::max(), 8};
    CHECK_THROWS_WITH_AS(tile::validate(layout),
                         doctest::Contains("layout.tiles[0].padded = (x=-4, y=0, w=9223372036854775807, h=8): must lie "
                                           "within max_layout_side"),
                         invalid_argument);
}

// ---- tilers ---------------------------------------------------------------------------------------------------

TEST_CASE("a grid canvas larger than max_layout_side") {
    CHECK_THROWS_WITH_AS(tile::build_grid(tile::max_layout_side + 1, 64, {}),
                         doctest::Contains("width = 16777217: must be in [1, 16777216] latent px (max_layout_side)"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS(tile::build_spot(64, -5, 16, 0, 10, 0, tile::spot_shift::random, 8),
                         doctest::Contains("height = -5"), invalid_argument);
}

TEST_CASE("a grid or SpotDiffusion layout of more than max_grid_tiles tiles") {
    tile::grid_options o;
    o.tile = 1;
    o.overlap_latent = 0;
    CHECK_THROWS_WITH_AS(
        tile::build_grid(1025, 1025, o),
        doctest::Contains("tile = 1: with overlap_latent = 0 gives 1050625 tiles on a 1025x1025 canvas, more "
                          "than max_grid_tiles = 1048576"),
        invalid_argument);
    CHECK_THROWS_WITH_AS(tile::build_spot(4096, 4096, 2, 0, 10, 0, tile::spot_shift::random, 8),
                         doctest::Contains("tile = 2: at most (width / tile + 2) x (height / tile + 2) gives 4202500 "
                                           "tiles"),
                         invalid_argument);
}

TEST_CASE("SpotDiffusion with more steps than max_spot_steps") {
    CHECK_THROWS_WITH_AS(tile::build_spot(64, 64, 16, 0, 2000000000, 0, tile::spot_shift::fibonacci, 8),
                         doctest::Contains("total_steps = 2000000000: must be in [1, 1048576] (max_spot_steps)"),
                         invalid_argument);
}

// ---- models ---------------------------------------------------------------------------------------------------

TEST_CASE("a model callback that throws (an engine's cancel) leaves the canvas at the last finished step") {
    const auto layout = grid_layout(2, 2, 8, 2, {0.3, 1.0});
    const host_tensor original = wavy(canvas, 1.0f, 0.3f), noise = wavy(canvas, 1.5f, 1.7f);
    const auto sigmas = schedule::flux(8, 512, 512);
    int cancel_at_step = 3;
    auto model =
        model::make_model(prediction::kind::flow_velocity, [&](const model::batch_request& r, mutable_view out) {
            if (r.step == cancel_at_step) throw cancelled_by_user();
            for (std::int64_t b = 0; b < out.shape().n; ++b)
                for (std::int64_t c = 0; c < out.shape().c; ++c)
                    for (std::int64_t y = 0; y < out.shape().h; ++y)
                        for (std::int64_t x = 0; x < out.shape().w; ++x) out(b, c, y, x) = r.x(b, c, y, x) - 0.2f;
        });
    field::tiled_field f(model, layout, canvas, policy::strength{}, options_with(sigmas), original.cview());
    host_tensor x(canvas), start(canvas);
    sampler::noised_original(original.cview(), noise.cview(), sigmas.front(), start.view());
    x = start;
    sampler::euler euler;
    CHECK_THROWS_WITH_AS(sampler::sample(euler, f, x.view(), sigmas), "cancelled by the user", cancelled_by_user);

    // The same three steps stopped by the observer give the same canvas, bit for bit.
    cancel_at_step = -1;
    host_tensor stopped = start;
    sampler::sample(euler, f, stopped.view(), sigmas, [](const sampler::step_info& info) { return info.step < 2; });
    CHECK(std::memcmp(x.data(), stopped.data(), sizeof(float) * static_cast<std::size_t>(x.numel())) == 0);

    // The field that saw the exception runs again and matches a fresh one.
    host_tensor again = start, fresh = start;
    sampler::sample(euler, f, again.view(), sigmas);
    field::tiled_field g(model, layout, canvas, policy::strength{}, options_with(sigmas), original.cview());
    sampler::sample(euler, g, fresh.view(), sigmas);
    CHECK(std::memcmp(again.data(), fresh.data(), sizeof(float) * static_cast<std::size_t>(x.numel())) == 0);
}

TEST_CASE("an observer that cancels: no error, the result says so") {
    host_tensor x(shape4{1, 1, 2, 2}, 1.0f);
    sampler::constant_velocity field{1.0f};
    sampler::dpmpp_2m s;
    const auto result =
        sampler::sample(s, field, x.view(), four_steps, [](const sampler::step_info&) { return false; });
    CHECK(result.steps_done == 1);
    CHECK(result.cancelled);
}

// ---- image files ----------------------------------------------------------------------------------------------

TEST_CASE("an empty image buffer") {
    CHECK_THROWS_WITH_AS(app::load_rgb_from_memory({}),
                         doctest::Contains("cannot read image '<memory>': empty (0 bytes)"), io_error);
}

TEST_CASE("a PNG header that declares a zero size") {
    std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                     0,    0,   0,   0,   0,    0,    0,    64,   8, 2, 0, 0,  0,   0,   0,   0};
    CHECK_THROWS_WITH_AS(app::load_rgb_from_memory(png, std::int64_t{1} << 28, "zero.png"),
                         doctest::Contains("cannot read image 'zero.png': zero size 0x64"), io_error);
}

TEST_CASE("a PNG header whose pixel count overflows 64-bit signed arithmetic") {
    // 0xE0E0E0E0 x 0xE0E0E0E0 pixels: the product overflowed int64 before fuzz_image_loader found it.
    std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    png.insert(png.end(), 8, 0xE0);
    png.insert(png.end(), {8, 2, 0, 0, 0, 0, 0, 0});
    CHECK_THROWS_WITH_AS(app::load_rgb_from_memory(png),
                         doctest::Contains("3772834016x3772834016 = 14234276512286688256 pixels is more than the limit "
                                           "of 268435456"),
                         io_error);
}

TEST_CASE("a PNG chunk that declares more bytes than the file holds") {
    // stb_image grew its buffer to the declared 2 GB before reading (found by fuzz_image_loader's memory limit).
    const std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',  // signature
                                           0,    0,   0,   13,  'I',  'H',  'D',  'R',  0,    0,   0,
                                           16,   0,   0,   0,   16,   8,    2,    0,    0,    0,      // 16x16 RGB
                                           0,    0,   0,   0,                                         // IHDR CRC
                                           0x80, 0,   0,   0,   'I',  'D',  'A',  'T',  0x78, 0x9c};  // 2^31-byte IDAT
    CHECK_THROWS_WITH_AS(app::load_rgb_from_memory(png),
                         doctest::Contains("Corrupt PNG: chunk 'IDAT' declares 2147483648 bytes but 2 follow"),
                         io_error);
}

TEST_CASE("a JPEG whose Huffman table declares more than 256 codes") {
    // stb_image 2.27 writes past its tables for this (found by fuzz_image_loader); the loader refuses it first.
    // Start of image, then a DHT segment of 19 bytes: table class/id, 16 counts of 32 codes each (512).
    const std::vector<std::uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xC4, 0x00, 0x13, 0x00, 32, 32, 32, 32, 32,
                                            32,   32,   32,   32,   32,   32,   32,   32, 32, 32, 32};
    CHECK_THROWS_WITH_AS(app::load_rgb_from_memory(jpeg),
                         doctest::Contains("cannot read image '<memory>': Corrupt JPEG: a Huffman table has more than "
                                           "256 codes"),
                         io_error);
    std::vector<std::uint8_t> filled(3, 0xFF);  // fill bytes before the start-of-image marker, which stb_image takes
    filled.insert(filled.end(), jpeg.begin(), jpeg.end());
    CHECK_THROWS_WITH_AS(app::load_rgb_from_memory(filled), doctest::Contains("more than 256 codes"), io_error);
}

TEST_CASE("a JPEG scan that uses a Huffman table no DHT segment defines") {
    // stb_image 2.27 decodes with the uninitialised table and reads far outside it (found by fuzz_image_loader).
    const std::vector<std::uint8_t> jpeg = {
        0xFF, 0xD8,  // start of image
        0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x10, 0x00, 0x10, 0x01,
        0x01, 0x11, 0x00,                                            // baseline frame, 16x16, 1 component
        0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00,  // scan: DC and AC table 0, never defined
        0x12, 0x34, 0x56, 0xFF, 0xD9};
    CHECK_THROWS_WITH_AS(app::load_rgb_from_memory(jpeg),
                         doctest::Contains("Corrupt JPEG: a scan uses a Huffman table that no DHT segment defines"),
                         io_error);
}

TEST_CASE("baseline and progressive JPEGs still decode after the Huffman table checks") {
    for (const char* name : {"gradient_24x16.jpg", "progressive.jpg"}) {
        CAPTURE(name);
        const app::rgb_image image =
            app::load_rgb(std::string(QUADFLOW_SOURCE_DIR) + "/fuzz/corpus/image_loader/" + name);
        CHECK(image.width == 24);
        CHECK(image.height == 16);
    }
}

TEST_CASE("a 16-bit greyscale PGM is refused before it is decoded") {
    // stb_image 2.27 read past its buffer for 16-bit PNM asked for RGB (found by fuzz_image_loader under ASan); a
    // 16-bit image of any format is now refused from its header, as its precision would be lost.
    const std::string header = "P5\n2 2\n65535\n";
    std::vector<std::uint8_t> pgm(header.begin(), header.end());
    for (const std::uint8_t b : {0x00, 0x00, 0x80, 0x00, 0xFF, 0xFF, 0x12, 0x34}) pgm.push_back(b);
    CHECK_THROWS_WITH_AS(app::load_rgb_from_memory(pgm), doctest::Contains("<memory>': 16 bits per channel"), io_error);
}

TEST_CASE("a directory where an image file is expected") {
    const std::string directory = std::filesystem::temp_directory_path().string();
    CHECK_THROWS_WITH_AS(app::load_rgb(directory), contains("cannot read image '" + directory + "': Is a directory"),
                         io_error);
}

TEST_CASE("save_image writes PNG or JPEG by the extension and refuses any other") {
    const app::rgb_image image(8, 8, {200, 10, 10});
    const std::filesystem::path folder = std::filesystem::temp_directory_path();
    auto first_bytes = [](const std::filesystem::path& path) {
        std::vector<unsigned char> bytes(4);
        std::FILE* file = std::fopen(path.string().c_str(), "rb");
        REQUIRE(file);
        bytes.resize(std::fread(bytes.data(), 1, bytes.size(), file));
        std::fclose(file);
        return bytes;
    };
    const auto png = folder / "quadflow_save_image.png", jpg = folder / "quadflow_save_image.JPG";
    app::save_image(png.string(), image);
    app::save_image(jpg.string(), image);
    CHECK(first_bytes(png) == std::vector<unsigned char>{0x89, 'P', 'N', 'G'});
    CHECK(first_bytes(jpg) == std::vector<unsigned char>{0xFF, 0xD8, 0xFF, first_bytes(jpg)[3]});
    CHECK(app::load_rgb(jpg.string()).width == 8);
    CHECK_THROWS_WITH_AS(app::save_image("out.bmp", image),
                         contains("cannot write 'out.bmp': unknown image extension (use .png, .jpg or .jpeg)"),
                         io_error);
    std::filesystem::remove(png);
    std::filesystem::remove(jpg);
}

TEST_CASE("load_rgb and load_rgb_from_memory agree on a file") {
    const std::string path = std::string(QUADFLOW_SOURCE_DIR) + "/tests/data/corner_64.png";
    std::FILE* file = std::fopen(path.c_str(), "rb");
    REQUIRE(file != nullptr);
    std::vector<std::uint8_t> bytes(4096);
    bytes.resize(std::fread(bytes.data(), 1, bytes.size(), file));
    std::fclose(file);
    const app::rgb_image from_file = app::load_rgb(path), from_memory = app::load_rgb_from_memory(bytes);
    CHECK(from_file.width == from_memory.width);
    CHECK(from_file.height == from_memory.height);
    CHECK(from_file.pixels == from_memory.pixels);
}
