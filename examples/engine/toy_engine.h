// A stand-in for a C++17 diffusion engine in the style of stable-diffusion.cpp: its own latent type, its own
// Euler and Heun samplers numbering steps as that engine does, and a denoise callback (latent in, sigma, step;
// x0 out). It knows nothing of quadflow.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

namespace toy_engine {

/// One latent, C x H x W.
struct latent {
    int channels = 0, height = 0, width = 0;
    std::vector<float> data;
    std::size_t size() const { return data.size(); }
};

/// The engine's model hook: writes the denoised estimate x0 of `x` at noise level `sigma` (sigma
/// convention: x = (1 - sigma) x0 + sigma noise) into `x0`, which has x's shape.
using denoise_callback = std::function<void(const latent& x, float sigma, int step, latent& x0)>;

/// Euler on the denoised estimate, as stable-diffusion.cpp's sample_euler runs it: the denoiser is called
/// with step i + 1; d = (x - x0) / sigma, x' = x + (sigma' - sigma) d.
inline void sample_euler(const denoise_callback& denoise, latent& x, const std::vector<float>& sigmas) {
    latent x0 = x;
    for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
        denoise(x, sigmas[i], static_cast<int>(i) + 1, x0);
        const float dt = sigmas[i + 1] - sigmas[i];
        for (std::size_t k = 0; k < x.size(); ++k) x.data[k] += dt * (x.data[k] - x0.data[k]) / sigmas[i];
    }
}

/// Heun as stable-diffusion.cpp's sample_heun runs it: the first call of step i with -(i + 1), the corrector
/// at sigmas[i + 1] with i + 1; the last step to sigma 0 is Euler.
inline void sample_heun(const denoise_callback& denoise, latent& x, const std::vector<float>& sigmas) {
    latent x0 = x, x2 = x, x0_2 = x;
    for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
        const int step = static_cast<int>(i) + 1;
        denoise(x, sigmas[i], -step, x0);
        const float dt = sigmas[i + 1] - sigmas[i];
        if (sigmas[i + 1] == 0.0f) {
            for (std::size_t k = 0; k < x.size(); ++k) x.data[k] += dt * (x.data[k] - x0.data[k]) / sigmas[i];
            continue;
        }
        for (std::size_t k = 0; k < x.size(); ++k) x2.data[k] = x.data[k] + dt * (x.data[k] - x0.data[k]) / sigmas[i];
        denoise(x2, sigmas[i + 1], step, x0_2);
        for (std::size_t k = 0; k < x.size(); ++k) {
            const float d = (x.data[k] - x0.data[k]) / sigmas[i], d2 = (x2.data[k] - x0_2.data[k]) / sigmas[i + 1];
            x.data[k] += dt * 0.5f * (d + d2);
        }
    }
}

}  // namespace toy_engine
