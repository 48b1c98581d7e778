// The toy engine's model and inputs (C++17): an analytic denoiser (per-element Gaussian data around a per-channel
// target, so a run can be checked), on a whole latent and on the tiled denoiser's batches of tiles; a picture with
// one detailed quarter for the quadtree; and deterministic latents.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "quadflow/engine/tiled_denoiser.hpp"
#include "toy_engine.h"

namespace analytic_model {

constexpr int image_size = 512, latent_scale = 8, channels = 4, latent_size = image_size / latent_scale;
constexpr float data_std = 0.3f;
constexpr float target[channels] = {0.6f, -0.4f, 0.2f, -0.1f};

/// E[x0 | x] for x0 ~ N(target_c, data_std^2) per element.
inline float posterior_mean(float x, float sigma, int channel) {
    const float keep = 1.0f - sigma, var = data_std * data_std, mu = target[channel];
    return mu + keep * var * (x - keep * mu) / (keep * keep * var + sigma * sigma);
}

/// The engine's model on a whole latent: writes E[x0 | x] into `x0`, which has x's shape.
inline void denoise(const toy_engine::latent& x, float sigma, int /*step*/, toy_engine::latent& x0) {
    const std::size_t plane = static_cast<std::size_t>(x.height) * x.width;
    for (std::size_t k = 0; k < x.size(); ++k)
        x0.data[k] = posterior_mean(x.data[k], sigma, static_cast<int>(k / plane));
}

/// The same model on a batch of tiles: what the engine hands the bridge (one call per batch).
inline void denoise_batch(const quadflow::engine::tile_batch& b) {
    const std::size_t plane = static_cast<std::size_t>(b.height) * b.width, item = plane * b.channels;
    for (std::size_t k = 0; k < item * b.count; ++k)
        b.denoised[k] = posterior_mean(b.x[k], b.sigma, static_cast<int>(k % item / plane));
}

/// A flat image with one detailed quarter (top left): the other three quarters are the quadtree's largest leaves
/// (calm), the detailed one splits into small busy leaves.
inline std::vector<std::uint8_t> test_image() {
    std::vector<std::uint8_t> rgb(static_cast<std::size_t>(image_size) * image_size * 3, 120);
    for (int y = 0; y < image_size / 2; ++y)
        for (int x = 0; x < image_size / 2; ++x)
            for (int c = 0; c < 3; ++c)
                rgb[(static_cast<std::size_t>(y) * image_size + x) * 3 + c] =
                    static_cast<std::uint8_t>((x * 37 + y * 91 + c * 53) % 256);
    return rgb;
}

/// A deterministic channels x latent_size x latent_size latent: sin(0.37 k + phase) at element k.
inline toy_engine::latent make_latent(float phase) {
    toy_engine::latent l{channels, latent_size, latent_size, {}};
    l.data.resize(static_cast<std::size_t>(channels) * latent_size * latent_size);
    for (std::size_t k = 0; k < l.size(); ++k) l.data[k] = std::sin(0.37f * static_cast<float>(k) + phase);
    return l;
}

}  // namespace analytic_model
