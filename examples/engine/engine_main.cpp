// A C++17 engine (toy_engine.h, stable-diffusion.cpp's conventions) gaining quadtree tiling without changing its
// sampler: its denoise callback becomes quadflow::engine::tiled_denoiser (C++17 header; the implementation is
// the one C++20 file tiled_denoiser.cpp). The engine's model is analytic (per-element Gaussian data around a
// per-channel target), so the results can be checked: tiled at strength 1 equals the untiled engine, and the
// regions of strength 0 stay the original.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "analytic_model.h"
#include "quadflow/engine/tiled_denoiser.hpp"
#include "toy_engine.h"

namespace {

using namespace analytic_model;

/// The model on a batch of tiles, counting the engine's calls.
int batches = 0;
void counted_batch(const quadflow::engine::tile_batch& b) {
    ++batches;
    denoise_batch(b);
}

/// max |a - b| over the calm three quarters (all but the top-left one), or everywhere.
float max_difference(const std::vector<float>& a, const std::vector<float>& b, bool calm_only) {
    float worst = 0.0f;
    for (std::size_t k = 0; k < a.size(); ++k) {
        const std::size_t y = k / latent_size % latent_size, x = k % latent_size;
        if (calm_only && y < latent_size / 2 && x < latent_size / 2) continue;
        worst = std::max(worst, std::abs(a[k] - b[k]));
    }
    return worst;
}

/// The engine's callback made from a tiled denoiser.
toy_engine::denoise_callback as_callback(quadflow::engine::tiled_denoiser& tiled) {
    return [&tiled](const toy_engine::latent& x, float sigma, int step, toy_engine::latent& x0) {
        tiled(x.data.data(), sigma, step, x0.data.data());
    };
}

}  // namespace

int main() {
    std::vector<float> sigmas;
    for (int i = 0; i <= 20; ++i) sigmas.push_back(1.0f - static_cast<float>(i) / 20.0f);
    const toy_engine::latent original = make_latent(0.3f), noise = make_latent(1.9f);

    quadflow::engine::tiling_settings settings;
    settings.sigmas = sigmas;  // stable-diffusion.cpp numbering (the default): steps from 1
    settings.original = original.data;
    settings.rgb = test_image();
    settings.image_width = settings.image_height = image_size;
    settings.latent_scale = latent_scale;
    settings.min_tile = 16;  // a 64x64 latent: model tiles of 16..32 latent px
    settings.max_tile = 32;
    settings.overlap_latent = 4;

    try {
        // The engine as it is, against tiled with every pixel at strength 1: the same result.
        toy_engine::latent plain = noise, tiled = noise;
        toy_engine::sample_heun(denoise, plain, sigmas);
        settings.min_strength = settings.max_strength = 1.0;
        quadflow::engine::tiled_denoiser full(counted_batch, settings);
        toy_engine::sample_heun(as_callback(full), tiled, sigmas);
        const float tiled_vs_plain = max_difference(tiled.data, plain.data, false);

        // img2img: calm regions at strength 0 (kept exactly), busy ones regenerated at up to 0.8.
        settings.min_strength = 0.0;
        settings.max_strength = 0.8;
        quadflow::engine::tiled_denoiser mixed_denoiser(counted_batch, settings);
        toy_engine::latent mixed = noise;
        for (std::size_t k = 0; k < mixed.size(); ++k)  // noised at sigmas[0] = 1: the noise itself
            mixed.data[k] = original.data[k] * (1.0f - sigmas[0]) + noise.data[k] * sigmas[0];
        batches = 0;
        toy_engine::sample_euler(as_callback(mixed_denoiser), mixed, sigmas);
        const float kept_error = max_difference(mixed.data, original.data, true);

        std::printf("strength tiles (quadtree leaves) %d, model tiles %d (smallest side %d latent px)\n",
                    mixed_denoiser.strength_tile_count(), mixed_denoiser.model_tile_count(),
                    mixed_denoiser.smallest_model_tile());
        std::printf("img2img: %lld tiles in %d engine calls over 20 Euler steps\n",
                    static_cast<long long>(mixed_denoiser.tiles_evaluated()), batches);
        std::printf("tiled (strength 1, Heun) vs plain engine: max |diff| = %.3g\n", tiled_vs_plain);
        std::printf("calm regions (strength 0) vs original: max |diff| = %.3g\n", kept_error);
        const bool ok = tiled_vs_plain <= 1e-5f && kept_error <= 1e-5f && mixed_denoiser.smallest_model_tile() >= 16;
        std::printf("%s\n", ok ? "engine bridge: OK" : "engine bridge: FAILED");
        return ok ? 0 : 1;
    } catch (const quadflow::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
}
