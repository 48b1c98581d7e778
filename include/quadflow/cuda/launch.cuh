// quadflow CUDA launchers: host functions that size the grids and launch the kernels of kernels/ on a stream.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/launch.cuh needs nvcc"
#endif

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/cuda/blend_arguments.hpp"
#include "quadflow/cuda/blend_tables.hpp"
#include "quadflow/cuda/error.cuh"
#include "quadflow/cuda/kernels/blend.cuh"
#include "quadflow/cuda/kernels/elementwise.cuh"
#include "quadflow/cuda/kernels/gather.cuh"
#include "quadflow/cuda/kernels/non_finite.cuh"
#include "quadflow/policy/policies.hpp"
#include "quadflow/prediction/prediction.hpp"

namespace quadflow::cuda {

/// Throws shape_error unless the view is contiguous device memory.
template <class T>
void require_contiguous_device(const tensor_view<T>& view, std::string_view what) {
    if (view.space() != memory_space::device)
        throw shape_error(std::string(what) + " is a host view where device memory is needed");
    if (!view.is_contiguous())
        throw shape_error(std::string(what) + " of shape " + to_string(view.shape()) + " must be contiguous");
}

/// Blocks for an elementwise grid-stride kernel of 256 threads over `count` elements.
inline unsigned elementwise_blocks(std::int64_t count) {
    return static_cast<unsigned>(std::clamp<std::int64_t>((count + 255) / 256, 1, std::int64_t{1} << 20));
}

/// Copies the padded rectangles of the `placed_count` tiles listed in `placed` (device) from the image
/// `x` (C x height x width, device) into their slots of `batch`, reflecting outside the canvas.
inline void gather_tiles(const float* x, std::int64_t width, std::int64_t height, std::int64_t channels,
                         const device_tile* tiles, const tile_step* steps, const std::int32_t* placed,
                         std::int64_t placed_count, float* batch, cudaStream_t stream) {
    if (placed_count == 0) return;
    const dim3 grid(static_cast<unsigned>(placed_count), static_cast<unsigned>(channels));
    kernels::gather_tiles<float><<<grid, dim3(32, 8), 0, stream>>>(
        x, static_cast<std::int32_t>(width), static_cast<std::int32_t>(height), tiles, steps, placed, batch);
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::gather_tiles");
}

/// Gathers the crops of one image of an auxiliary canvas (`aux`: channels x (height * scale) x (width * scale)) for
/// the placed tiles into `batch` (the auxiliary batch buffer, laid out as the latent's slots).
inline void gather_auxiliary(const float* aux, std::int64_t width, std::int64_t height, int scale,
                             std::int64_t latent_channels, std::int64_t channels, const device_tile* tiles,
                             const tile_step* steps, const std::int32_t* placed, std::int64_t placed_count,
                             float* batch, cudaStream_t stream) {
    if (placed_count == 0) return;
    const dim3 grid(static_cast<unsigned>(placed_count), static_cast<unsigned>(channels));
    kernels::gather_auxiliary<float><<<grid, dim3(32, 8), 0, stream>>>(
        aux, static_cast<std::int32_t>(width), static_cast<std::int32_t>(height), scale,
        static_cast<std::int32_t>(latent_channels), static_cast<std::int32_t>(channels), tiles, steps, placed, batch);
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::gather_auxiliary");
}

/// The fused blend of one image: accumulate every covering tile's weighted policy velocity, normalise.
/// `blocks_x`, `blocks_y`: the coverage's block grid (blend_tuning::block_width x blend_tuning::block_height pixels).
template <policy::velocity_policy Policy>
void blend_tiles(const blend_arguments& arguments, std::int64_t blocks_x, std::int64_t blocks_y, const Policy& policy,
                 cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(blocks_x), static_cast<unsigned>(blocks_y));
    const dim3 block(static_cast<unsigned>(blend_tuning::block_width),
                     static_cast<unsigned>(blend_tuning::block_height));
    kernels::blend_tiles<Policy><<<grid, block, 0, stream>>>(arguments, policy);
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::blend_tiles");
}

/// After the blend of one image: if it met a non-finite model velocity, finds the smallest key (the
/// `placed_count` tiles listed in `placed`, `x` as the blend read it).
inline void find_non_finite(non_finite_record* record, const float* model_output, const float* x, std::int64_t width,
                            std::int64_t height, std::int64_t channels, const device_tile* tiles,
                            const tile_step* steps, const std::int32_t* placed, std::int64_t placed_count,
                            prediction::kind kind, float sigma, cudaStream_t stream) {
    if (placed_count == 0) return;
    const auto blocks = static_cast<unsigned>(std::min<std::int64_t>(placed_count * channels, 256));
    kernels::find_non_finite<float><<<blocks, dim3(32, 8), 0, stream>>>(
        record, model_output, x, static_cast<std::int32_t>(width), static_cast<std::int32_t>(height),
        static_cast<std::int32_t>(channels), tiles, steps, placed, placed_count, kind, sigma);
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::find_non_finite");
}

inline void capture_non_finite(non_finite_record* record, std::int64_t image, const float* model_output,
                               const device_tile* tiles, const tile_step* steps, const float* x, std::int64_t width,
                               std::int64_t height, cudaStream_t stream) {
    kernels::capture_non_finite<float><<<1, 1, 0, stream>>>(record, static_cast<std::int32_t>(image), model_output,
                                                            tiles, steps, x, static_cast<std::int32_t>(width),
                                                            static_cast<std::int32_t>(height));
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::capture_non_finite");
}

/// x += dt * velocity over `count` device elements (sampler::euler_update per element).
inline void euler_step(float* x, const float* velocity, std::int64_t count, float dt, cudaStream_t stream) {
    if (count == 0) return;
    kernels::euler_step<float><<<elementwise_blocks(count), 256, 0, stream>>>(x, velocity, count, dt);
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::euler_step");
}

/// Enqueues out = (1 - sigma) * original + sigma * noise on `stream` (the img2img start), as
/// sampler::noised_original computes it on the host: the same arguments, as contiguous device views of one
/// shape; `out` may alias either input. sigma = 1 gives the noise (txt2img), sigma = 0 the original.
inline void noised_original(const_view original, const_view noise, double sigma, mutable_view out,
                            cudaStream_t stream) {
    require_same_shape(noise.shape(), original.shape(), "noise", "original");
    require_same_shape(out.shape(), original.shape(), "output", "original");
    require(sigma >= 0.0 && sigma <= 1.0, "sigma", sigma, "must be in [0, 1]");
    require_contiguous_device(original, "original");
    require_contiguous_device(noise, "noise");
    require_contiguous_device(out, "output");
    const std::int64_t count = out.numel();
    if (count == 0) return;
    kernels::noised_original<float><<<elementwise_blocks(count), 256, 0, stream>>>(
        original.data(), noise.data(), count, static_cast<float>(1.0 - sigma), static_cast<float>(sigma), out.data());
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::noised_original");
}

}  // namespace quadflow::cuda
