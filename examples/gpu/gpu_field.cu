// quadflow GPU example: img2img with everything on the GPU (latent, original, noise, the model, the tiled field
// and the Euler steps on one CUDA stream). The model is an analytic stand-in for an engine's denoiser: a
// kernel that predicts the denoised latent x0 for a Gaussian target N(mu, s^2) per element.
// Without a CUDA device it prints "no CUDA device" and exits 0.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "quadflow/cuda/device_field.cuh"
#include "quadflow/cuda/device_tensor.cuh"
#include "quadflow/cuda/error.cuh"
#include "quadflow/cuda/euler.cuh"
#include "quadflow/noise/torch_randn.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/tile/grid.hpp"

namespace {

using namespace quadflow;

/// Padded-rectangle origins of up to 16 batch items, passed to the kernel by value.
struct batch_origins {
    static constexpr int capacity = 16;
    std::int32_t x[capacity], y[capacity];
};

/// x0 = E[x0 | x] = mu + (1 - sigma) s^2 (x - (1 - sigma) mu) / ((1 - sigma)^2 s^2 + sigma^2) per element,
/// mu read at the element's canvas position (reflected where the tile leaves the canvas).
__global__ void denoise_gaussian_target(const float* x, float* x0, batch_origins origins, int h, int w, int channels,
                                        const float* mu, int canvas_h, int canvas_w, float sigma, float spread) {
    const int item = blockIdx.z, c = blockIdx.y;
    const std::int64_t offset = (std::int64_t(item) * channels + c) * h * w;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < h * w; i += gridDim.x * blockDim.x) {
        const auto cy = reflect_index(origins.y[item] + i / w, canvas_h);
        const auto cx = reflect_index(origins.x[item] + i % w, canvas_w);
        const float m = mu[(std::int64_t(c) * canvas_h + cy) * canvas_w + cx];
        const float keep = 1.0f - sigma, variance = spread * spread;
        x0[offset + i] = m + keep * variance * (x[offset + i] - keep * m) / (keep * keep * variance + sigma * sigma);
    }
}

/// The engine's model: a device_tile_model that enqueues its kernel on the field's stream.
struct gaussian_target_model {
    const float* mu;  // 1 x C x H x W on the device
    int canvas_h, canvas_w;
    float spread;

    prediction::kind prediction_kind() const { return prediction::kind::denoised; }

    void operator()(const model::batch_request& request, mutable_view out, cudaStream_t stream) const {
        const shape4 s = request.x.shape();
        for (std::int64_t first = 0; first < s.n; first += batch_origins::capacity) {
            const std::int64_t items = std::min<std::int64_t>(batch_origins::capacity, s.n - first);
            batch_origins origins{};
            for (std::int64_t i = 0; i < items; ++i) {
                origins.x[i] = static_cast<std::int32_t>(request.tiles[first + i].padded.x);
                origins.y[i] = static_cast<std::int32_t>(request.tiles[first + i].padded.y);
            }
            const std::int64_t offset = first * s.c * s.h * s.w;
            const dim3 grid(static_cast<unsigned>((s.h * s.w + 255) / 256), static_cast<unsigned>(s.c),
                            static_cast<unsigned>(items));
            denoise_gaussian_target<<<grid, 256, 0, stream>>>(request.x.data() + offset, out.data() + offset, origins,
                                                              int(s.h), int(s.w), int(s.c), mu, canvas_h, canvas_w,
                                                              float(request.sigma), spread);
            QUADFLOW_CUDA_CHECK_LAUNCH("denoise_gaussian_target");
        }
    }
};
static_assert(cuda::device_tile_model<gaussian_target_model>);

}  // namespace

int main() {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        std::printf("no CUDA device\n");
        return 0;
    }
    constexpr shape4 shape{1, 16, 128, 128};
    cudaStream_t stream;
    QUADFLOW_CUDA_CHECK(cudaStreamCreate(&stream));
    {
        // The engine's tensors, on the device: VAE-encoded image, prompt target, noise for seed 42.
        const cuda::device_tensor original(host_tensor(shape, 0.2f), stream);
        const cuda::device_tensor target(host_tensor(shape, -0.3f), stream);
        const cuda::device_tensor noise(noise::torch_randn(42, shape), stream);

        tile::layout layout = tile::build_grid(128, 128, {.tile = 64, .overlap_latent = 8});
        for (tile::layout_tile& t : layout.tiles) t.strength = t.id == 0 ? 0.0 : 0.6;  // keep tile 0 exactly

        gaussian_target_model model{target.data(), 128, 128, 0.1f};
        field::field_options options;
        options.sigmas = schedule::flux(20, 1024, 1024);
        cuda::device_tiled_field field(model, layout, shape, policy::strength{}, options, stream, original.cview());

        cuda::device_tensor x(shape);
        cuda::noised_original(original.cview(), noise.cview(), options.sigmas.front(), x.view(), stream);
        cuda::euler euler(stream);
        cuda::sample(euler, field, x.view(), options.sigmas);

        const host_tensor result = x.download(stream);  // the one copy back, for printing
        // Where only tile 0 reaches, the latent is the original exactly; elsewhere it moved to the target.
        auto only_tile_0 = [&](std::int64_t px, std::int64_t y) {
            for (const tile::layout_tile& t : layout.tiles)
                if (t.padded.contains(px, y) && t.id != 0) return false;
            return true;
        };
        double kept_error = 0, changed = 0;
        for (std::int64_t c = 0; c < shape.c; ++c)
            for (std::int64_t y = 0; y < shape.h; ++y)
                for (std::int64_t px = 0; px < shape.w; ++px) {
                    const double d = std::abs(double(result(0, c, y, px)) - 0.2);
                    if (only_tile_0(px, y))
                        kept_error = std::max(kept_error, d);
                    else if (!layout.tiles[0].padded.contains(px, y))
                        changed = std::max(changed, d);
                }
        std::printf(
            "model calls %lld, x[0] = %.6f (original 0.2), max |x - original| where only tile 0 reaches %.2e, "
            "largest change elsewhere %.3f\n",
            static_cast<long long>(field.stats().model_calls), result(0, 0, 0, 0), kept_error, changed);
    }
    QUADFLOW_CUDA_CHECK(cudaStreamDestroy(stream));
}
