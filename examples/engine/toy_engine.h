// A stand-in for a C++17 diffusion engine in the style of stable-diffusion.cpp: its own latent type, its own
// Euler sampler, and a denoise callback (latent in, sigma, step; x0 out). It knows nothing of quadflow.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

namespace toy_engine {

/// One latent, NCHW with N = 1.
struct latent {
    int channels = 0, height = 0, width = 0;
    std::vector<float> data;
    std::size_t size() const { return data.size(); }
};

/// The engine's model hook: writes the denoised estimate x0 of `x` at noise level `sigma` (sigma
/// convention: x = (1 - sigma) x0 + sigma noise) into `x0`, which has x's shape.
using denoise_callback = std::function<void(const latent& x, float sigma, int step, latent& x0)>;

/// The engine's Euler sampler on the denoised estimate, as stable-diffusion.cpp runs it:
/// d = (x - x0) / sigma, x' = x + (sigma' - sigma) d.
inline void sample_euler(const denoise_callback& denoise, latent& x, const std::vector<float>& sigmas) {
    latent x0 = x;
    for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
        denoise(x, sigmas[i], static_cast<int>(i), x0);
        const float dt = sigmas[i + 1] - sigmas[i];
        for (std::size_t k = 0; k < x.size(); ++k) x.data[k] += dt * (x.data[k] - x0.data[k]) / sigmas[i];
    }
}

}  // namespace toy_engine
