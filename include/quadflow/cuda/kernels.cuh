// quadflow CUDA kernels: tile gather with mirror reflection, the fused deterministic tile blend, the Euler update.
//
// The blend is a gather: one thread per canvas pixel picks, from the tiles listed for its pixel block
// (blend_tables.coverage, tile index order), those that contain the pixel, and for each adds, channel by channel,
//   w * policy velocity(model velocity converted from the prediction, state, original, strength)
// then multiplies by 1 / (sum of weights). Nothing is accumulated with atomics, so the same inputs give
// the same bits whatever the launch order. A non-finite model velocity only raises a flag in the blend;
// find_non_finite then locates the first one (an integer atomicMin, order-free) and capture_non_finite
// records it. Per-element math is the CPU field's own host-device functions:
// prediction::to_flow_velocity, policy velocities, the blend_plan's weight factors, sampler::euler_update.
// Kernels are templates on the value type (float) so that this header can be included in several
// translation units.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/kernels.cuh needs nvcc"
#endif

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "quadflow/core/finite.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/cuda/blend_tables.hpp"
#include "quadflow/cuda/error.cuh"
#include "quadflow/policy/policies.hpp"
#include "quadflow/prediction/prediction.hpp"
#include "quadflow/sampler/euler_math.hpp"

namespace quadflow::cuda {

/// "Nothing found" in a non_finite_record key (all bits set).
inline constexpr unsigned long long no_non_finite = ~0ull;
/// A non-finite model velocity is keyed by (tile index << 40) | (element offset in the tile's C x h x w
/// output); the smallest key wins (an integer atomicMin, so the reported element does not depend on timing).
inline constexpr int non_finite_offset_bits = 40;
inline constexpr std::int64_t max_blend_tiles = std::int64_t{1} << (64 - non_finite_offset_bits);
inline constexpr std::int64_t max_tile_elements = std::int64_t{1} << non_finite_offset_bits;

/// Where the first non-finite model velocity of an evaluation was found (device memory).
struct non_finite_record {
    std::uint32_t none_found = ~0u;            ///< cleared to 0 by a blend that met a non-finite model velocity
    unsigned long long key = no_non_finite;    ///< smallest key of the image being blended
    unsigned long long first = no_non_finite;  ///< key of the first image that had one
    std::int32_t image = 0;                    ///< that image
    float prediction = 0.0f;                   ///< the model output there
    float state = 0.0f;                        ///< the canvas state there
};

/// Inputs of one blend of one image. Canvas tensors are that image's C x H x W planes.
struct blend_arguments {
    const float* x = nullptr;           ///< state; null when no term reads it (flow-velocity model, no preservation)
    const float* original = nullptr;    ///< clean original; null when no term reads it
    const float* strength = nullptr;    ///< per-pixel strength H x W (mask policy), or null
    const float* model_output = nullptr;  ///< the batch buffer; tile t's output at steps[t].slot
    float* velocity = nullptr;          ///< written: the blended flow velocity
    const float* inverse_weight_sum = nullptr;  ///< H x W
    const float* axis_weights = nullptr;
    const device_tile* tiles = nullptr;
    const tile_step* steps = nullptr;
    const policy::tile_context* contexts = nullptr;  ///< per tile; read only by policies without linear()
    const std::int32_t* block_offsets = nullptr;     ///< coverage CSR
    const std::int32_t* block_tiles = nullptr;
    std::int32_t width = 0, height = 0, channels = 0;
    prediction::kind kind = prediction::kind::flow_velocity;
    float sigma = 1.0f;
    non_finite_record* non_finite = nullptr;
};

namespace kernels {

QUADFLOW_DEVICE inline std::int64_t reflect_if_outside(std::int64_t i, std::int64_t n) {
    return i >= 0 && i < n ? i : reflect_index(i, n);
}

/// Block (tile k of `placed`, channel c): copies the tile's padded rectangle of plane c into its slot.
template <class Value>
__global__ void gather_tiles(const Value* x, std::int32_t width, std::int32_t height, const device_tile* tiles,
                             const tile_step* steps, const std::int32_t* placed, Value* batch) {
    const std::int32_t t = placed[blockIdx.x];
    const std::int64_t c = blockIdx.y;
    const device_tile tile = tiles[t];
    Value* out = batch + steps[t].slot + c * tile.w * tile.h;
    const Value* plane = x + c * width * height;
    for (std::int32_t ly = threadIdx.y; ly < tile.h; ly += blockDim.y) {
        const Value* row = plane + reflect_if_outside(tile.y + ly, height) * width;
        for (std::int32_t lx = threadIdx.x; lx < tile.w; lx += blockDim.x)
            out[std::int64_t(ly) * tile.w + lx] = row[reflect_if_outside(tile.x + lx, width)];
    }
}

/// A covering tile of a blend block as a blend thread block stages it in shared memory.
struct staged_tile {
    std::int32_t index = 0;                   ///< tile index in the layout
    std::int32_t x = 0, y = 0, w = 0, h = 0;  ///< padded rectangle
    std::int64_t slot = -1;                   ///< tile_step::slot
    policy::linear_velocity linear;           ///< tile_step::linear
    std::int64_t row_weights = 0, column_weights = 0;
};

/// Tiles of a block's list staged at once, and covering tiles a thread collects before it reads their outputs.
inline constexpr int blend_window = 64;
inline constexpr int blend_picks = 8;
/// Covering tiles whose model outputs a thread reads in one pass over the channels.
inline constexpr int blend_chunk = 4;
/// Channels of those outputs copied to shared memory per stage; two stages are in flight.
inline constexpr int blend_stage_channels = 4;
/// Shared memory of the two stage buffers of a blend block (blend_chunk x blend_stage_channels floats per thread
/// each), held in a static array with the window and the picks (under the 48 KiB of static shared memory).
inline constexpr int blend_stage_floats = blend_chunk * blend_stage_channels * int(blend_block_width * blend_block_height);
/// Blend blocks resident per SM the kernel's register budget aims at (64 registers a thread).
inline constexpr int blend_min_blocks = 4;

/// cp.async of one float from global to shared memory (sm_80 and later; a plain copy before), its commit and
/// its wait for all but the `Pending` most recent groups.
QUADFLOW_DEVICE inline void copy_async(float* shared, const float* global) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const auto address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(address), "l"(global) : "memory");
#else
    *shared = *global;
#endif
}
QUADFLOW_DEVICE inline void commit_async() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
template <int Pending>
QUADFLOW_DEVICE inline void wait_async() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
#endif
}

/// One pixel's terms over its picks [0, picks), in pick order, for every channel: the sum starts from 0 (the
/// thread's first flush) or from the partial sum in `velocity` (a later one) and is multiplied by
/// 1 / (sum of weights) at the end of the final flush. The additions happen in the same order however the
/// picks are split into flushes, so the result is the sum in tile index order.
/// The model outputs travel by cp.async into the thread's own slots of `stage_buffer`, blend_stage_channels
/// channels per stage with the next stage in flight while one is summed: the loads in flight hold no registers,
/// and nothing per pick but its weight stays in registers (the rest is read again from the staged window).
template <class Policy>
QUADFLOW_DEVICE void flush_picks(const blend_arguments& a, const Policy& policy, const staged_tile* window,
                                       const std::uint8_t* pick_entry, float* stage_buffer,
                                       int picks, std::int64_t pixel, std::int32_t px, std::int32_t py,
                                       float pixel_strength, bool started, bool final_flush, bool& any_non_finite) {
    constexpr int threads = int(blend_block_width * blend_block_height);
    constexpr int G = blend_stage_channels;
    const std::int64_t plane = std::int64_t(a.width) * a.height;
    const int stages = (a.channels + G - 1) / G;
    int base = 0;
    do {
        const int count = min(picks - base, blend_chunk);
        const auto issue = [&](int stage) {
            float* buffer = stage_buffer + (stage & 1) * blend_stage_floats;
            for (int q = 0; q < count; ++q) {
                const staged_tile& s = window[pick_entry[(base + q) * threads]];
                if (s.slot < 0) continue;
                const std::int64_t tile_plane = std::int64_t(s.w) * s.h;
                const float* source = a.model_output + s.slot + std::int64_t(stage) * G * tile_plane +
                                      ((py - s.y) * s.w + (px - s.x));
#pragma unroll
                for (int j = 0; j < G; ++j)
                    if (stage * G + j < a.channels) copy_async(buffer + (q * G + j) * threads, source + j * tile_plane);
            }
            commit_async();
        };
        issue(0);
        float weight[blend_chunk];  // read while the first stage's copies are in flight
#pragma unroll
        for (int q = 0; q < blend_chunk; ++q) {
            weight[q] = 0.0f;
            if (q >= count) continue;
            const staged_tile& s = window[pick_entry[(base + q) * threads]];
            weight[q] = a.axis_weights[s.row_weights + (py - s.y)] * a.axis_weights[s.column_weights + (px - s.x)];
        }
        for (int stage = 0; stage < stages; ++stage) {
            if (stage + 1 < stages) {
                issue(stage + 1);
                wait_async<1>();  // this stage's copies have landed; the next stage's may still be in flight
            } else {
                wait_async<0>();
            }
            const float* buffer = stage_buffer + (stage & 1) * blend_stage_floats;
#pragma unroll
            for (int j = 0; j < G; ++j) {
                const std::int32_t c = stage * G + j;
                if (c >= a.channels) break;
                const std::int64_t at = c * plane + pixel;
                const float state = a.x ? a.x[at] : 0.0f;
                const float original = a.original ? a.original[at] : 0.0f;
                float sum = started || base > 0 ? a.velocity[at] : 0.0f;
#pragma unroll
                for (int q = 0; q < blend_chunk; ++q) {
                    if (q >= count) break;
                    const staged_tile& s = window[pick_entry[(base + q) * threads]];
                    const float vm = s.slot >= 0 ? prediction::to_flow_velocity(a.kind, buffer[(q * G + j) * threads], state, a.sigma)
                                                 : 0.0f;
                    any_non_finite = any_non_finite || quadflow::detail::non_finite_bit(vm) != 0;
                    float v;
                    if constexpr (policy::linear_policy<Policy>) {
                        v = s.linear(policy::element{vm, state, original, a.strength ? pixel_strength : 0.0f});
                    } else {
                        const policy::tile_context context = a.contexts[s.index];
                        v = policy.velocity(context, policy::element{vm, state, original,
                                                                     a.strength ? pixel_strength : context.denoise});
                    }
                    sum += weight[q] * v;
                }
                if (final_flush && base + blend_chunk >= picks) sum *= a.inverse_weight_sum[pixel];
                a.velocity[at] = sum;
            }
        }
        base += blend_chunk;
    } while (base < picks);
}

/// One thread per pixel of a blend block (one thread block per block of the coverage). The block stages its
/// list of covering tiles in shared memory, blend_window at a time; each thread picks the tiles that contain
/// its pixel (with their weights) and then reads their model outputs blend_chunk tiles at a time, every
/// channel, adding the terms in tile index order. A thread's partial sums live in its own output pixels
/// between flushes, so the order never depends on scheduling.
template <class Policy>
__global__ void __launch_bounds__(blend_block_width * blend_block_height, blend_min_blocks) blend_tiles(const blend_arguments a,
                                                                                      const Policy policy) {
    constexpr int threads = int(blend_block_width * blend_block_height);
    __shared__ staged_tile window[blend_window];
    __shared__ std::uint8_t pick_entry[blend_picks * threads];
    __shared__ float stage_buffer[2 * blend_stage_floats];

    const int thread = threadIdx.y * blockDim.x + threadIdx.x;
    const std::int32_t px = blockIdx.x * blockDim.x + threadIdx.x;
    const std::int32_t py = blockIdx.y * blockDim.y + threadIdx.y;
    const bool inside = px < a.width && py < a.height;
    const std::int64_t pixel = std::int64_t(py) * a.width + px;
    const float pixel_strength = inside && a.strength ? a.strength[pixel] : 0.0f;
    bool any_non_finite = false;

    const std::int32_t block = blockIdx.y * gridDim.x + blockIdx.x;
    const std::int32_t begin = a.block_offsets[block], end = a.block_offsets[block + 1];
    bool started = false;
    int picks = 0;
    for (std::int32_t first = begin; first < end || (first == begin && begin == end); first += blend_window) {
        const int staged = static_cast<int>(min(end - first, std::int32_t{blend_window}));
        __syncthreads();
        if (thread < staged) {
            const std::int32_t t = a.block_tiles[first + thread];
            const device_tile tile = a.tiles[t];
            const tile_step step = a.steps[t];
            window[thread] = staged_tile{t, tile.x, tile.y, tile.w, tile.h, step.slot, step.linear, tile.row_weights,
                                         tile.column_weights};
        }
        __syncthreads();
        const bool last_window = first + blend_window >= end;
        for (int k = 0; inside;) {
            for (; k < staged && picks < blend_picks; ++k) {
                const staged_tile& s = window[k];
                const std::int32_t lx = px - s.x, ly = py - s.y;
                if (lx < 0 || lx >= s.w || ly < 0 || ly >= s.h) continue;
                pick_entry[picks * threads + thread] = static_cast<std::uint8_t>(k);
                ++picks;
            }
            const bool window_done = k >= staged;
            if (picks == blend_picks || (window_done && (picks > 0 || last_window))) {
                flush_picks(a, policy, window, pick_entry + thread, stage_buffer + thread, picks,
                            pixel, px, py, pixel_strength, started, window_done && last_window, any_non_finite);
                started = true;
                picks = 0;
            }
            if (window_done) break;
        }
        if (begin == end) break;
    }
    if (any_non_finite) atomicAnd(&a.non_finite->none_found, 0u);
}

/// This thread's share of plane c of tile t: the smallest key of a non-finite model velocity among its
/// in-canvas elements, or `found` if smaller (the velocity as the blend computes it: state from `x`, 0 where
/// `x` is null).
template <class Value>
QUADFLOW_DEVICE unsigned long long smallest_non_finite_key(const Value* model_output, const Value* x,
                                                          std::int32_t width, std::int32_t height,
                                                          const device_tile& tile, std::int32_t t,
                                                          std::int64_t slot, std::int64_t c, prediction::kind kind,
                                                          float sigma, unsigned long long found) {
    const std::int64_t tile_plane = std::int64_t(tile.w) * tile.h;
    const Value* out = model_output + slot + c * tile_plane;
    for (std::int32_t ly = threadIdx.y; ly < tile.h; ly += blockDim.y) {
        const std::int32_t py = tile.y + ly;
        if (py < 0 || py >= height) continue;
        for (std::int32_t lx = threadIdx.x; lx < tile.w; lx += blockDim.x) {
            const std::int32_t px = tile.x + lx;
            if (px < 0 || px >= width) continue;
            const std::int64_t local = std::int64_t(ly) * tile.w + lx;
            const float state = x ? x[(c * height + py) * width + px] : 0.0f;
            if (!quadflow::detail::non_finite_bit(prediction::to_flow_velocity(kind, out[local], state, sigma))) continue;
            const auto key = (static_cast<unsigned long long>(t) << non_finite_offset_bits) |
                             static_cast<unsigned long long>(c * tile_plane + local);
            found = key < found ? key : found;
        }
    }
    return found;
}

/// After a blend that cleared none_found and before any image was captured: the smallest key of a non-finite
/// model velocity among the in-canvas elements of the `placed_count` tiles of `placed`. Each block takes
/// (tile, channel) planes in turn; when nothing was found every block returns at once, so the grid stays small.
template <class Value>
__global__ void find_non_finite(non_finite_record* record, const Value* model_output, const Value* x,
                                std::int32_t width, std::int32_t height, std::int32_t channels,
                                const device_tile* tiles, const tile_step* steps, const std::int32_t* placed,
                                std::int64_t placed_count, prediction::kind kind, float sigma) {
    if (record->none_found != 0 || record->first != no_non_finite) return;
    unsigned long long found = no_non_finite;
    for (std::int64_t plane = blockIdx.x; plane < placed_count * channels; plane += gridDim.x) {
        const std::int32_t t = placed[plane / channels];
        found = smallest_non_finite_key(model_output, x, width, height, tiles[t], t, steps[t].slot, plane % channels,
                                        kind, sigma, found);
    }
    if (found != no_non_finite) atomicMin(&record->key, found);
}

/// One thread: if the image just blended had a non-finite velocity and none was captured before, records
/// its key, image, model output and state (before later images overwrite the batch buffer).
template <class Value>
__global__ void capture_non_finite(non_finite_record* record, std::int32_t image, const Value* model_output,
                                   const device_tile* tiles, const tile_step* steps, const Value* x,
                                   std::int32_t width, std::int32_t height) {
    const unsigned long long key = record->key;
    if (key == no_non_finite || record->first != no_non_finite) return;
    const auto t = static_cast<std::int64_t>(key >> non_finite_offset_bits);
    const auto local = static_cast<std::int64_t>(key & ((1ull << non_finite_offset_bits) - 1));
    const device_tile tile = tiles[t];
    const std::int64_t tile_plane = std::int64_t(tile.w) * tile.h;
    const std::int64_t c = local / tile_plane, ly = (local % tile_plane) / tile.w, lx = local % tile.w;
    record->first = key;
    record->image = image;
    record->prediction = model_output[steps[t].slot + local];
    record->state = x[c * width * height + (tile.y + ly) * width + (tile.x + lx)];
}

template <class Value>
__global__ void euler_step(Value* x, const Value* velocity, std::int64_t count, Value dt) {
    for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < count; i += std::int64_t(gridDim.x) * blockDim.x)
        x[i] = sampler::euler_update(x[i], velocity[i], dt);
}

/// x = keep * original + sigma * noise with keep = float(1 - sigma), as sampler::noised_original computes it.
template <class Value>
__global__ void noised_original(const Value* original, const Value* noise, std::int64_t count, Value keep, Value sigma,
                                Value* out) {
    for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < count; i += std::int64_t(gridDim.x) * blockDim.x)
        out[i] = keep * original[i] + sigma * noise[i];
}

}  // namespace kernels

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
    kernels::gather_tiles<float><<<grid, dim3(32, 8), 0, stream>>>(x, static_cast<std::int32_t>(width),
                                                                   static_cast<std::int32_t>(height), tiles, steps,
                                                                   placed, batch);
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::gather_tiles");
}

/// The fused blend of one image: accumulate every covering tile's weighted policy velocity, normalise.
/// `blocks_x`, `blocks_y`: the coverage's block grid (blend_block_width x blend_block_height pixels).
template <policy::velocity_policy Policy>
void blend_tiles(const blend_arguments& arguments, std::int64_t blocks_x, std::int64_t blocks_y, const Policy& policy,
                 cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(blocks_x), static_cast<unsigned>(blocks_y));
    const dim3 block(static_cast<unsigned>(blend_block_width), static_cast<unsigned>(blend_block_height));
    kernels::blend_tiles<Policy><<<grid, block, 0, stream>>>(arguments, policy);
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::blend_tiles");
}

/// After the blend of one image: if it met a non-finite model velocity, finds the smallest key (the
/// `placed_count` tiles listed in `placed`, `x` as the blend read it).
inline void find_non_finite(non_finite_record* record, const float* model_output, const float* x, std::int64_t width,
                            std::int64_t height, std::int64_t channels, const device_tile* tiles, const tile_step* steps,
                            const std::int32_t* placed, std::int64_t placed_count, prediction::kind kind, float sigma,
                            cudaStream_t stream) {
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

/// out = (1 - sigma) * original + sigma * noise over `count` device elements (the img2img start).
inline void noised_original(const float* original, const float* noise, std::int64_t count, double sigma, float* out,
                            cudaStream_t stream) {
    if (count == 0) return;
    kernels::noised_original<float><<<elementwise_blocks(count), 256, 0, stream>>>(
        original, noise, count, static_cast<float>(1.0 - sigma), static_cast<float>(sigma), out);
    QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::cuda::kernels::noised_original");
}

}  // namespace quadflow::cuda
