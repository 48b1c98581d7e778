// A replica of stable-diffusion.cpp's sampling loop as far as quadflow sees it (C++17): its FLUX schedule, its
// img2img noising and truncation, and its Euler, Heun, DPM2 and DPM++ 2M loops with their step numbering, in
// float arithmetic as the engine does them. Read from leejet/stable-diffusion.cpp at 97d2990:
//   - src/runtime/denoiser.hpp: flux_time_shift, FluxScheduler::compute_mu and FluxScheduler::get_sigmas;
//     DiscreteFlowDenoiser::noise_scaling; sample_euler, sample_heun, sample_dpm2, sample_dpmpp_2m. The denoiser
//     is called as model(x, sigma, i + 1), and Heun's and DPM2's first call of a step as model(x, sigma, -(i + 1));
//   - src/stable-diffusion.cpp: prepare_image_generation_latents (img2img: t_enc = int(steps * strength), minus
//     1 when it equals steps; sigmas[steps - t_enc - 1 :]); StableDiffusionGGML::get_image_seq_len (latent H * W).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "../examples/engine/toy_engine.h"

namespace sdcpp_replica {

/// One latent, C x H x W: the toy engine's (examples/engine), a C++17 engine's latent as stable-diffusion.cpp's is.
using latent = toy_engine::latent;

/// The engine's denoise callback: the denoised estimate x0 of `x` at `sigma`; `step` as the samplers number it.
using denoise_cb = std::function<latent(const latent& x, float sigma, int step)>;

inline float flux_time_shift(float mu, float sigma, float t) {
    return ::expf(mu) / (::expf(mu) + ::powf((1.0f / t - 1.0f), sigma));
}

/// FluxScheduler::get_sigmas with base_shift 0.5, max_shift 1.15.
inline std::vector<float> flux_sigmas(unsigned n, int image_seq_len) {
    const float base_shift = 0.5f, max_shift = 1.15f;
    const float m = (max_shift - base_shift) / (4096.0f - 256.0f);
    const float b = base_shift - m * 256.0f;
    const float mu = static_cast<float>(image_seq_len) * m + b;
    std::vector<float> sigmas;
    for (unsigned i = 0; i <= n; ++i) {
        const float t = 1.0f - static_cast<float>(i) / static_cast<float>(n);
        sigmas.push_back(t <= 0.0f ? 0.0f : flux_time_shift(mu, 1.0f, t));
    }
    sigmas[n] = 0.0f;
    return sigmas;
}

/// The img2img truncation of a schedule of `steps` steps at `strength` < 1.
inline std::vector<float> img2img_sigmas(const std::vector<float>& sigmas, float strength) {
    const int steps = static_cast<int>(sigmas.size()) - 1;
    if (!(strength < 1.0f)) return sigmas;
    auto t_enc = static_cast<std::size_t>(steps * strength);
    if (t_enc == static_cast<std::size_t>(steps)) t_enc--;
    return std::vector<float>(sigmas.begin() + static_cast<std::ptrdiff_t>(steps - t_enc - 1), sigmas.end());
}

/// noise_scaling: the starting latent latent * (1 - sigma) + noise * sigma.
inline latent noised(const latent& init, const latent& noise, float sigma) {
    latent x = init;
    for (std::size_t k = 0; k < x.size(); ++k) x.data[k] = init.data[k] * (1.0f - sigma) + noise.data[k] * sigma;
    return x;
}

inline latent sample_euler(const denoise_cb& model, latent x, const std::vector<float>& sigmas) {
    const int steps = static_cast<int>(sigmas.size()) - 1;
    for (int i = 0; i < steps; i++) {
        const float sigma = sigmas[i];
        const latent denoised = model(x, sigma, i + 1);
        for (std::size_t k = 0; k < x.size(); ++k) {
            const float d = (x.data[k] - denoised.data[k]) / sigma;
            x.data[k] += d * (sigmas[i + 1] - sigma);
        }
    }
    return x;
}

inline latent sample_heun(const denoise_cb& model, latent x, const std::vector<float>& sigmas) {
    const int steps = static_cast<int>(sigmas.size()) - 1;
    for (int i = 0; i < steps; i++) {
        const latent denoised = model(x, sigmas[i], -(i + 1));
        std::vector<float> d(x.size());
        for (std::size_t k = 0; k < x.size(); ++k) d[k] = (x.data[k] - denoised.data[k]) / sigmas[i];
        const float dt = sigmas[i + 1] - sigmas[i];
        if (sigmas[i + 1] == 0) {
            for (std::size_t k = 0; k < x.size(); ++k) x.data[k] += d[k] * dt;
        } else {
            latent x2 = x;
            for (std::size_t k = 0; k < x.size(); ++k) x2.data[k] = x.data[k] + d[k] * dt;
            const latent denoised2 = model(x2, sigmas[i + 1], i + 1);
            for (std::size_t k = 0; k < x.size(); ++k) {
                const float d2 = (d[k] + (x2.data[k] - denoised2.data[k]) / sigmas[i + 1]) / 2.0f;
                x.data[k] += d2 * dt;
            }
        }
    }
    return x;
}

inline latent sample_dpm2(const denoise_cb& model, latent x, const std::vector<float>& sigmas) {
    const int steps = static_cast<int>(sigmas.size()) - 1;
    for (int i = 0; i < steps; i++) {
        const latent denoised = model(x, sigmas[i], -(i + 1));
        std::vector<float> d(x.size());
        for (std::size_t k = 0; k < x.size(); ++k) d[k] = (x.data[k] - denoised.data[k]) / sigmas[i];
        if (sigmas[i + 1] == 0) {
            for (std::size_t k = 0; k < x.size(); ++k) x.data[k] += d[k] * (sigmas[i + 1] - sigmas[i]);
        } else {
            const float sigma_mid = std::exp(0.5f * (std::log(sigmas[i]) + std::log(sigmas[i + 1])));
            const float dt_1 = sigma_mid - sigmas[i];
            const float dt_2 = sigmas[i + 1] - sigmas[i];
            latent x2 = x;
            for (std::size_t k = 0; k < x.size(); ++k) x2.data[k] = x.data[k] + d[k] * dt_1;
            const latent denoised2 = model(x2, sigma_mid, i + 1);
            for (std::size_t k = 0; k < x.size(); ++k)
                x.data[k] += ((x2.data[k] - denoised2.data[k]) / sigma_mid) * dt_2;
        }
    }
    return x;
}

inline latent sample_dpmpp_2m(const denoise_cb& model, latent x, const std::vector<float>& sigmas) {
    latent old_denoised = x;
    const auto t_fn = [](float sigma) -> float { return -std::log(sigma); };
    const int steps = static_cast<int>(sigmas.size()) - 1;
    for (int i = 0; i < steps; i++) {
        const latent denoised = model(x, sigmas[i], i + 1);
        const float t = t_fn(sigmas[i]);
        const float t_next = t_fn(sigmas[i + 1]);
        const float h = t_next - t;
        const float a = sigmas[i + 1] / sigmas[i];
        const float b = std::exp(-h) - 1.f;
        if (i == 0 || sigmas[i + 1] == 0) {
            for (std::size_t k = 0; k < x.size(); ++k) x.data[k] = a * x.data[k] - b * denoised.data[k];
        } else {
            const float h_last = t - t_fn(sigmas[i - 1]);
            const float r = h_last / h;
            for (std::size_t k = 0; k < x.size(); ++k) {
                const float denoised_d =
                    (1.f + 1.f / (2.f * r)) * denoised.data[k] - (1.f / (2.f * r)) * old_denoised.data[k];
                x.data[k] = a * x.data[k] - b * denoised_d;
            }
        }
        old_denoised = denoised;
    }
    return x;
}

enum class method { euler, heun, dpm2, dpmpp_2m };

inline latent sample(method m, const denoise_cb& model, const latent& x, const std::vector<float>& sigmas) {
    switch (m) {
        case method::euler:
            return sample_euler(model, x, sigmas);
        case method::heun:
            return sample_heun(model, x, sigmas);
        case method::dpm2:
            return sample_dpm2(model, x, sigmas);
        case method::dpmpp_2m:
            return sample_dpmpp_2m(model, x, sigmas);
    }
    throw std::invalid_argument("unknown sampling method");
}

}  // namespace sdcpp_replica
