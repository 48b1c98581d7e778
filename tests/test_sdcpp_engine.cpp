// quadflow driven by a replica of stable-diffusion.cpp's sampling loop (tests/sdcpp_replica.hpp) through the
// installed engine bridge (quadflow/engine/tiled_denoiser.hpp): its step numbering, its FLUX schedule and img2img
// truncation, its Euler, Heun, DPM2 and DPM++ 2M loops. The engine's model is analytic (per-element Gaussian
// data around a per-channel target), so a tiled run at strength 1 must equal the untiled engine.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../examples/engine/analytic_model.h"
#include "quadflow/core/rect.hpp"
#include "quadflow/engine/tiled_denoiser.hpp"
#include "quadflow/engine/tiled_denoiser_impl.hpp"
#include "sdcpp_replica.hpp"

namespace {

using sdcpp_replica::latent;
using sdcpp_replica::method;
namespace engine = quadflow::engine;

using namespace analytic_model;  // the example engine's analytic model, picture and latents

const method methods[] = {method::euler, method::heun, method::dpm2, method::dpmpp_2m};
const char* const method_names[] = {"euler", "heun", "dpm2", "dpmpp_2m"};

/// The engine's own model on a whole latent (untiled).
latent whole_latent_model(const latent& x, float sigma) {
    latent x0 = x;
    denoise(x, sigma, 0, x0);
    return x0;
}

/// The same model on a batch of tiles, as the bridge calls it.
void (*const batch_model)(const engine::tile_batch&) = denoise_batch;

float max_difference(const latent& a, const latent& b) {
    float worst = 0.0f;
    for (std::size_t k = 0; k < a.size(); ++k) worst = std::max(worst, std::abs(a.data[k] - b.data[k]));
    return worst;
}

/// max |a - b| over the three calm quarters (every pixel but the detailed top-left quarter).
float calm_difference(const latent& a, const latent& b) {
    const int half = latent_size / 2;
    float worst = 0.0f;
    for (int c = 0; c < channels; ++c)
        for (int y = 0; y < latent_size; ++y)
            for (int x = 0; x < latent_size; ++x) {
                if (y < half && x < half) continue;
                const std::size_t k = (static_cast<std::size_t>(c) * latent_size + y) * latent_size + x;
                worst = std::max(worst, std::abs(a.data[k] - b.data[k]));
            }
    return worst;
}

engine::tiling_settings settings_for(const std::vector<float>& sampled, const latent& original) {
    engine::tiling_settings s;
    s.sigmas = sampled;
    s.original = original.data;
    s.rgb = test_image();
    s.image_width = s.image_height = image_size;
    s.latent_scale = latent_scale;
    s.min_tile = 16;  // a 64x64 latent: model tiles of 16-32 latent px
    s.max_tile = 32;
    s.overlap_latent = 4;
    return s;
}

/// The replica engine sampling with the bridge's tiled denoiser in place of its own.
latent sample_tiled(method m, engine::tiled_denoiser& tiled, const latent& start, const std::vector<float>& sigmas) {
    const sdcpp_replica::denoise_cb denoise = [&](const latent& x, float sigma, int step) {
        latent x0 = x;
        tiled(x.data.data(), sigma, step, x0.data.data());
        return x0;
    };
    return sdcpp_replica::sample(m, denoise, start, sigmas);
}

latent sample_untiled(method m, const latent& start, const std::vector<float>& sigmas) {
    return sdcpp_replica::sample(
        m, [](const latent& x, float sigma, int) { return whole_latent_model(x, sigma); }, start, sigmas);
}

const std::vector<float> full_schedule = sdcpp_replica::flux_sigmas(20, latent_size* latent_size);

}  // namespace

TEST_CASE("the replica's schedule and truncation are stable-diffusion.cpp's") {
    REQUIRE(full_schedule.size() == 21);
    CHECK(full_schedule.front() == 1.0f);
    CHECK(full_schedule.back() == 0.0f);
    // strength 0.75 of 20 steps: t_enc = 15, sigmas[4:], 16 steps; the bridge's helper agrees.
    const std::vector<float> truncated = sdcpp_replica::img2img_sigmas(full_schedule, 0.75f);
    CHECK(truncated.size() == 17);
    CHECK(truncated.front() == full_schedule[4]);
    CHECK(engine::sdcpp_img2img_schedule(full_schedule, 0.75f) == truncated);
    CHECK(engine::sdcpp_img2img_schedule(full_schedule, 1.0f) == full_schedule);
    CHECK(engine::sdcpp_img2img_schedule(full_schedule, 0.999f).size() == 21);  // t_enc = 19: sigmas[0:]
    CHECK_THROWS_WITH_AS(engine::sdcpp_img2img_schedule(full_schedule, 0.0f), doctest::Contains("strength = 0"),
                         quadflow::invalid_argument);
}

TEST_CASE("tiled at strength 1 equals the untiled engine, for every sampler and its step numbering") {
    const latent original = make_latent(0.3f), noise = make_latent(1.9f);
    for (std::size_t i = 0; i < 4; ++i) {
        CAPTURE(method_names[i]);
        engine::tiling_settings s = settings_for(full_schedule, original);
        s.min_strength = s.max_strength = 1.0;
        engine::tiled_denoiser tiled(batch_model, s);
        CHECK(tiled.model_tile_count() > 4);
        const latent start = sdcpp_replica::noised(original, noise, full_schedule.front());
        const latent plain = sample_untiled(methods[i], start, full_schedule);
        const latent tiled_result = sample_tiled(methods[i], tiled, start, full_schedule);
        CHECK(max_difference(tiled_result, plain) <= 1e-5f);
        CHECK(max_difference(plain, original) > 0.1f);  // the run does change the latent
    }
}

TEST_CASE("img2img with a truncated schedule: strength-0 regions stay the original, for every sampler") {
    const latent original = make_latent(0.3f), noise = make_latent(1.9f);
    const std::vector<float> sampled = sdcpp_replica::img2img_sigmas(full_schedule, 0.75f);
    const latent start = sdcpp_replica::noised(original, noise, sampled.front());
    SUBCASE("model-sized tiles, the mask policy (the bridge's default)") {
        for (std::size_t i = 0; i < 4; ++i) {
            CAPTURE(method_names[i]);
            engine::tiled_denoiser tiled(batch_model, settings_for(sampled, original));
            CHECK(tiled.smallest_model_tile() >= 16);
            const latent result = sample_tiled(methods[i], tiled, start, sampled);
            CHECK(calm_difference(result, original) <= 1e-5f);
            CHECK(max_difference(result, original) > 0.1f);  // the detailed quarter is regenerated
        }
    }
    SUBCASE("the seed's own tiles, the strength policy: the step numbering decides each tile's start step") {
        for (std::size_t i = 0; i < 4; ++i) {
            CAPTURE(method_names[i]);
            engine::tiling_settings s = settings_for(sampled, original);
            s.leaf_tiles = true;
            s.leaf_overlap_pixels = 0;
            s.policy = "strength";
            engine::tiled_denoiser tiled(batch_model, s);
            CHECK(tiled.smallest_model_tile() == 1);
            const latent result = sample_tiled(methods[i], tiled, start, sampled);
            CHECK(calm_difference(result, original) <= 1e-5f);
        }
    }
}

TEST_CASE("the engine's model gets batches of tiles with their rectangles and the engine's step") {
    const latent original = make_latent(0.3f), noise = make_latent(1.9f);
    engine::tiling_settings s = settings_for(full_schedule, original);
    s.min_strength = s.max_strength = 1.0;
    s.tile_batch_size = 3;
    const latent start = sdcpp_replica::noised(original, noise, full_schedule.front());
    std::vector<int> steps_seen;
    int largest_batch = 0;
    float worst_crop = 0.0f;
    const latent* current = nullptr;
    engine::tiled_denoiser tiled(
        [&](const engine::tile_batch& b) {
            steps_seen.push_back(b.step);
            largest_batch = std::max(largest_batch, b.count);
            // Each item is its tile's padded rectangle of the canvas state (mirror reflection outside).
            for (int n = 0; n < b.count; ++n) {
                const engine::tile_meta& t = b.tiles[n];
                CHECK(t.padded.w == b.width);
                CHECK(t.padded.h == b.height);
                for (int c = 0; c < b.channels; ++c)
                    for (int y = 0; y < b.height; ++y)
                        for (int x = 0; x < b.width; ++x) {
                            const std::int64_t cy = quadflow::reflect_index(t.padded.y + y, latent_size);
                            const std::int64_t cx = quadflow::reflect_index(t.padded.x + x, latent_size);
                            const float expected =
                                current->data[(static_cast<std::size_t>(c) * latent_size + cy) * latent_size + cx];
                            const float got =
                                b.x[((static_cast<std::size_t>(n) * b.channels + c) * b.height + y) * b.width + x];
                            worst_crop = std::max(worst_crop, std::abs(expected - got));
                        }
            }
            batch_model(b);
        },
        s);
    const sdcpp_replica::denoise_cb denoise = [&](const latent& x, float sigma, int step) {
        current = &x;
        latent x0 = x;
        tiled(x.data.data(), sigma, step, x0.data.data());
        return x0;
    };
    sdcpp_replica::sample_heun(denoise, start, full_schedule);
    CHECK(worst_crop == 0.0f);
    CHECK(largest_batch == 3);
    CHECK(tiled.model_calls() < tiled.tiles_evaluated());
    REQUIRE(!steps_seen.empty());
    CHECK(steps_seen.front() == -1);  // Heun's first call of step 0, as stable-diffusion.cpp numbers it
    CHECK(std::find(steps_seen.begin(), steps_seen.end(), 1) != steps_seen.end());
    CHECK(std::find(steps_seen.begin(), steps_seen.end(), 0) == steps_seen.end());
}

TEST_CASE("region labels and auxiliary images reach the engine's model per tile: its condition, its crop") {
    const latent original = make_latent(0.3f), noise = make_latent(1.9f);
    engine::tiling_settings s = settings_for(full_schedule, original);
    s.min_strength = s.max_strength = 1.0;  // every tile needs the model at every step
    // Left half of the image: condition 1 (e.g. "a suit"), right half: condition 0 (the background).
    s.region_labels.assign(static_cast<std::size_t>(image_size) * image_size, 0);
    for (int y = 0; y < image_size; ++y)
        for (int x = 0; x < image_size / 2; ++x) s.region_labels[static_cast<std::size_t>(y) * image_size + x] = 1;
    // A one-channel control image at image resolution: its value is the image pixel's column.
    engine::auxiliary_image control;
    control.channels = 1;
    control.scale = latent_scale;
    control.values.resize(static_cast<std::size_t>(image_size) * image_size);
    for (int y = 0; y < image_size; ++y)
        for (int x = 0; x < image_size; ++x) control.values[static_cast<std::size_t>(y) * image_size + x] = float(x);
    s.auxiliary.push_back(control);
    int mixed = 0, wrong_condition = 0, wrong_crop = 0, batches = 0;
    std::vector<int> tiles_by_condition(2, 0);
    engine::tiled_denoiser tiled(
        [&](const engine::tile_batch& b) {
            ++batches;
            REQUIRE(b.auxiliary_count == 1);
            const engine::auxiliary_crops& crops = b.auxiliary[0];
            CHECK(crops.channels == 1);
            CHECK(crops.width == b.width * latent_scale);
            CHECK(crops.height == b.height * latent_scale);
            CHECK(b.canvas_width == latent_size);
            CHECK(b.latent_scale == latent_scale);
            for (int n = 0; n < b.count; ++n) {
                const engine::tile_meta& t = b.tiles[n];
                if (t.condition != b.tiles[0].condition) ++mixed;
                ++tiles_by_condition[static_cast<std::size_t>(t.condition)];
                // Most of the core on the left half: condition 1.
                const std::int64_t left =
                    std::clamp<std::int64_t>(image_size / 2 - t.core_pixels.x, 0, t.core_pixels.w);
                if (t.condition != (2 * left > t.core_pixels.w ? 1 : 0)) ++wrong_condition;
                CHECK(t.padded_pixels.x == t.padded.x * latent_scale);
                // Row 0 of the crop: the padded columns' image x, reflected as the latent is.
                for (int x = 0; x < crops.width; ++x) {
                    const float got = crops.data[static_cast<std::size_t>(n) * crops.height * crops.width + x];
                    const auto expected =
                        float(quadflow::reflect_scaled_index(t.padded_pixels.x + x, latent_size, latent_scale));
                    if (got != expected) ++wrong_crop;
                }
            }
            batch_model(b);
        },
        s);
    latent x0 = original;
    tiled(original.data.data(), full_schedule[3], 4, x0.data.data());
    CHECK(batches > 0);
    CHECK(mixed == 0);
    CHECK(wrong_condition == 0);
    CHECK(wrong_crop == 0);
    CHECK(tiles_by_condition[0] > 0);
    CHECK(tiles_by_condition[1] > 0);
    s.auxiliary[0].values.pop_back();
    CHECK_THROWS_WITH_AS(engine::tiled_denoiser(batch_model, s),
                         "tiling_settings.auxiliary[0].values.size() = 262143: must be channels x (latent height * "
                         "scale) x (latent width * scale) = 262144",
                         quadflow::invalid_argument);
}

TEST_CASE("the grid tiler and a strength map: the map's strength-0 pixels stay the original") {
    const latent original = make_latent(0.3f), noise = make_latent(1.9f);
    const std::vector<float> sampled = sdcpp_replica::img2img_sigmas(full_schedule, 0.75f);
    const latent start = sdcpp_replica::noised(original, noise, sampled.front());
    engine::tiling_settings s = settings_for(sampled, original);
    s.tiler = "grid";
    s.rgb.clear();  // the grid needs no image
    s.max_tile = 24;
    s.overlap_latent = 4;
    SUBCASE("every pixel at max_strength 1 equals the untiled engine") {
        s.max_strength = 1.0;
        engine::tiled_denoiser tiled(batch_model, s);
        CHECK(tiled.model_tile_count() == 9);  // 64 latent px in tiles of 24: 3 x 3
        CHECK(max_difference(sample_tiled(method::heun, tiled, start, sampled),
                             sample_untiled(method::heun, start, sampled)) <= 1e-5f);
    }
    SUBCASE("a strength map keeps its 0 pixels (the three calm quarters) and regenerates the rest") {
        s.strength_map.assign(static_cast<std::size_t>(latent_size) * latent_size, 0.0f);
        for (int y = 0; y < latent_size / 2; ++y)
            for (int x = 0; x < latent_size / 2; ++x) s.strength_map[static_cast<std::size_t>(y * latent_size + x)] = 1;
        for (std::size_t i = 0; i < 4; ++i) {
            CAPTURE(method_names[i]);
            engine::tiled_denoiser tiled(batch_model, s);
            const latent result = sample_tiled(methods[i], tiled, start, sampled);
            CHECK(calm_difference(result, original) <= 1e-5f);
            CHECK(max_difference(result, original) > 0.1f);
        }
    }
    SUBCASE("bad tilers, images and maps") {
        s.tiler = "hexagons";
        CHECK_THROWS_WITH_AS(engine::tiled_denoiser(batch_model, s),
                             doctest::Contains("tiling_settings.tiler = hexagons: must be quadtree or grid"),
                             quadflow::invalid_argument);
        s.tiler = "quadtree";
        CHECK_THROWS_WITH_AS(engine::tiled_denoiser(batch_model, s),
                             doctest::Contains("tiling_settings.rgb.size() = 0: must be image_width x image_height"),
                             quadflow::invalid_argument);
        s.tiler = "grid";
        s.strength_map.assign(10, 0.5f);
        CHECK_THROWS_WITH_AS(
            engine::tiled_denoiser(batch_model, s),
            doctest::Contains("tiling_settings.strength_map.size() = 10: must be the latent's 64 x 64"),
            quadflow::invalid_argument);
        s.strength_map.assign(static_cast<std::size_t>(latent_size) * latent_size, 0.5f);
        s.strength_map[70] = 1.5f;
        CHECK_THROWS_WITH_AS(
            engine::tiled_denoiser(batch_model, s),
            doctest::Contains("tiling_settings.strength_map = 1.5: must be in [0, 1] (latent pixel 6, 1)"),
            quadflow::invalid_argument);
        s.strength_map.clear();
        s.leaf_tiles = true;
        CHECK_THROWS_WITH_AS(engine::tiled_denoiser(batch_model, s), doctest::Contains("tiling_settings.leaf_tiles"),
                             quadflow::invalid_argument);
    }
}

TEST_CASE("a wrong schedule or step numbering is a clear error, never a silent wrong picture") {
    const latent original = make_latent(0.3f), noise = make_latent(1.9f);
    const std::vector<float> sampled = sdcpp_replica::img2img_sigmas(full_schedule, 0.75f);
    const latent start = sdcpp_replica::noised(original, noise, sampled.front());
    SUBCASE("the bridge told the full schedule while the engine samples its img2img truncation") {
        engine::tiled_denoiser tiled(batch_model, settings_for(full_schedule, original));
        CHECK_THROWS_WITH_AS(
            sample_tiled(method::euler, tiled, start, sampled),
            doctest::Contains("the engine's stable-diffusion.cpp step 1 is schedule step 0, which runs "
                              "from sigma 1 to"),
            quadflow::invalid_argument);
    }
    SUBCASE("steps from 1 read as steps from 0") {
        engine::tiling_settings s = settings_for(sampled, original);
        s.numbering = engine::step_numbering::from_zero;
        engine::tiled_denoiser tiled(batch_model, s);
        const std::string expected =
            "sigma = " + quadflow::detail::to_text(sampled[0]) + ": the engine's step 1 is schedule step 1";
        CHECK_THROWS_WITH_AS(sample_tiled(method::euler, tiled, start, sampled), doctest::Contains(expected.c_str()),
                             quadflow::invalid_argument);
        CHECK_THROWS_WITH_AS(sample_tiled(method::heun, tiled, start, sampled), doctest::Contains("step = -1"),
                             quadflow::invalid_argument);
    }
    SUBCASE("a step past the schedule, and step 0 under stable-diffusion.cpp numbering") {
        engine::tiled_denoiser tiled(batch_model, settings_for(sampled, original));
        latent x0 = start;
        CHECK_THROWS_WITH_AS(tiled(start.data.data(), sampled[0], 17, x0.data.data()),
                             doctest::Contains("step = 17: names schedule step 16, past the last step"),
                             quadflow::invalid_argument);
        CHECK_THROWS_WITH_AS(tiled(start.data.data(), sampled[0], 0, x0.data.data()),
                             doctest::Contains("step = 0: stable-diffusion.cpp numbers steps from 1"),
                             quadflow::invalid_argument);
    }
    SUBCASE("bad settings") {
        engine::tiling_settings s = settings_for(sampled, original);
        s.original.pop_back();
        CHECK_THROWS_WITH_AS(engine::tiled_denoiser(batch_model, s),
                             doctest::Contains("tiling_settings.original.size()"), quadflow::invalid_argument);
        s = settings_for({}, original);
        CHECK_THROWS_WITH_AS(engine::tiled_denoiser(batch_model, s),
                             doctest::Contains("tiling_settings.sigmas.size() = 0"), quadflow::invalid_argument);
        s = settings_for(sampled, original);
        s.min_tile = 0;
        CHECK_THROWS_WITH_AS(engine::tiled_denoiser(batch_model, s), doctest::Contains("min_tile = 0"),
                             quadflow::invalid_argument);
        CHECK_THROWS_WITH_AS(engine::tiled_denoiser(engine::batch_denoiser{}, settings_for(sampled, original)),
                             doctest::Contains("model = empty"), quadflow::invalid_argument);
    }
}

TEST_CASE("the default model tiles are model-sized on a FLUX-sized latent") {
    // 1024 px at latent scale 8: a 128x128 latent; the seed's tree reaches 1x1-latent leaves in the busy quarter.
    constexpr int size = 1024;
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(size) * size * 3, 120);
    for (int y = 0; y < size / 2; ++y)
        for (int x = 0; x < size / 2; ++x)
            for (int c = 0; c < 3; ++c)
                rgb[(static_cast<std::size_t>(y) * size + x) * 3 + c] =
                    static_cast<std::uint8_t>((x * 37 + y * 91 + c * 53) % 256);
    engine::tiling_settings s;
    s.sigmas = sdcpp_replica::flux_sigmas(4, 128 * 128);
    s.original.assign(static_cast<std::size_t>(16) * 128 * 128, 0.0f);
    s.rgb = rgb;
    s.image_width = s.image_height = size;
    engine::tiled_denoiser tiled(batch_model, s);
    CHECK(tiled.strength_tile_count() > 100);
    CHECK(tiled.smallest_model_tile() >= 64);
    CHECK(tiled.model_tile_count() <= 4);
    s.leaf_tiles = true;
    engine::tiled_denoiser seed(batch_model, s);
    CHECK(seed.smallest_model_tile() == 1);
}
