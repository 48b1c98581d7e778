// A C++17 engine (toy_engine.h) gaining quadtree tiling without changing its sampler: its denoise callback is
// wrapped by the quadflow bridge (quadflow_bridge.cpp, the only C++20 file). The model behind the callback
// is analytic (per-element Gaussian data around a per-channel target), so the results can be checked.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <vector>

#include "quadflow_bridge.h"
#include "toy_engine.h"

namespace {

constexpr int image_size = 256, latent_scale = 8, channels = 4, latent_size = image_size / latent_scale;
constexpr float data_std = 0.3f;
const float target[channels] = {0.6f, -0.4f, 0.2f, -0.1f};

/// The engine's model: E[x0 | x] for x0 ~ N(target_c, data_std^2) per element; it sees one latent only.
void analytic_denoise(const toy_engine::latent& x, float sigma, int, toy_engine::latent& x0) {
    const float keep = 1.0f - sigma, var = data_std * data_std;
    const std::size_t plane = static_cast<std::size_t>(x.height) * x.width;
    for (std::size_t k = 0; k < x.size(); ++k) {
        const float mu = target[k / plane];
        x0.data[k] = mu + keep * var * (x.data[k] - keep * mu) / (keep * keep * var + sigma * sigma);
    }
}

/// A flat image with one detailed corner, so the quadtree has large calm tiles and small busy ones.
std::vector<std::uint8_t> test_image() {
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(image_size) * image_size * 3, 120);
    for (int y = 0; y < image_size / 2; ++y)
        for (int x = 0; x < image_size / 2; ++x)
            for (int c = 0; c < 3; ++c)
                rgb[(static_cast<std::size_t>(y) * image_size + x) * 3 + c] =
                    static_cast<std::uint8_t>((x * 37 + y * 91 + c * 53) % 256);
    return rgb;
}

toy_engine::latent make_latent(float phase) {
    toy_engine::latent l{channels, latent_size, latent_size, {}};
    l.data.resize(static_cast<std::size_t>(channels) * latent_size * latent_size);
    for (std::size_t k = 0; k < l.size(); ++k) l.data[k] = std::sin(0.37f * static_cast<float>(k) + phase);
    return l;
}

float max_difference(const std::vector<float>& a, const std::vector<float>& b) {
    float worst = 0.0f;
    for (std::size_t k = 0; k < a.size(); ++k) worst = std::max(worst, std::abs(a[k] - b[k]));
    return worst;
}

}  // namespace

int main() {
    std::vector<float> sigmas;
    for (int i = 0; i <= 20; ++i) sigmas.push_back(1.0f - static_cast<float>(i) / 20.0f);
    const toy_engine::latent original = make_latent(0.3f), noise = make_latent(1.9f);

    // The engine as it is: plain img2img at full strength from the noise.
    toy_engine::latent plain = noise;
    toy_engine::sample_euler(analytic_denoise, plain, sigmas);

    bridge::tiling_settings settings;
    settings.sigmas = sigmas;
    settings.original = original.data;
    settings.rgb = test_image();
    settings.image_width = settings.image_height = image_size;
    settings.latent_scale = latent_scale;

    // Every tile at strength 1: the tiled run must equal the plain one (the model is per element).
    settings.min_denoise = settings.max_denoise = 1.0;
    toy_engine::latent tiled = noise;
    toy_engine::sample_euler(bridge::make_tiled_denoiser(analytic_denoise, settings), tiled, sigmas);
    const float tiled_vs_plain = max_difference(tiled.data, plain.data);
    const int tiles = bridge::last_tile_count();

    // Calm tiles at strength 0 (kept), busy ones regenerated: with no overlap, kept cores are exact.
    settings.min_denoise = 0.0;
    settings.max_denoise = 0.8;
    settings.overlap_pixels = 0;
    toy_engine::latent mixed = noise;
    toy_engine::sample_euler(bridge::make_tiled_denoiser(analytic_denoise, settings), mixed, sigmas);
    const int half = latent_size / 2;
    float kept_error = 0.0f;  // the calm bottom-right quarter is one tile of the largest area: d = 0
    for (int c = 0; c < channels; ++c)
        for (int y = half; y < latent_size; ++y)
            for (int x = half; x < latent_size; ++x) {
                const std::size_t k = (static_cast<std::size_t>(c) * latent_size + y) * latent_size + x;
                kept_error = std::max(kept_error, std::abs(mixed.data[k] - original.data[k]));
            }

    std::printf("tiles %d\ntiled (strength 1) vs plain engine: max |diff| = %.3g\n", tiles, tiled_vs_plain);
    std::printf("kept quarter (strength 0) vs original: max |diff| = %.3g\n", kept_error);
    const bool ok = tiled_vs_plain <= 1e-5f && kept_error <= 1e-5f && tiles > 4;
    std::printf("%s\n", ok ? "engine bridge: OK" : "engine bridge: FAILED");
    return ok ? 0 : 1;
}
