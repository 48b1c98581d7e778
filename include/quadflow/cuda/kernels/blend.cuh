// quadflow CUDA blend kernel: the fused deterministic tile blend, one thread per canvas pixel, covering tiles in tile
// index order.
//
// The blend is a gather: one thread per canvas pixel picks, from the tiles listed for its pixel block
// (blend_tables.coverage, tile index order), those that contain the pixel, and for each adds, channel by channel,
//   w * policy velocity(model velocity converted from the prediction, state, original, strength)
// then multiplies the sum by 1 / (sum of weights). Nothing is accumulated with atomics, so the same inputs give
// the same bits whatever the launch order. A non-finite model velocity only raises a flag (non_finite->none_found);
// the kernels of non_finite.cuh then locate it. Per-element math is the CPU field's own host-device functions:
// prediction::to_flow_velocity, policy velocities, the blend_plan's weight factors, detail::non_finite_bit.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/kernels/blend.cuh needs nvcc"
#endif

#include <cstdint>

#include "quadflow/core/config.hpp"
#include "quadflow/core/finite.hpp"
#include "quadflow/cuda/blend_arguments.hpp"
#include "quadflow/cuda/blend_tables.hpp"
#include "quadflow/cuda/detail/copy_async.cuh"
#include "quadflow/cuda/detail/kernel.cuh"
#include "quadflow/policy/policies.hpp"
#include "quadflow/prediction/prediction.hpp"

namespace quadflow::cuda::kernels {

/// A covering tile of a blend block as a blend thread block stages it in shared memory.
struct staged_tile {
    std::int32_t index = 0;                   ///< tile index in the layout
    std::int32_t x = 0, y = 0, w = 0, h = 0;  ///< padded rectangle
    std::int64_t slot = -1;                   ///< tile_step::slot
    policy::linear_velocity linear;           ///< tile_step::linear
    std::int64_t row_weights = 0, column_weights = 0;
};

/// One pixel's terms over its picks [0, picks), in pick order, for every channel: the sum starts from 0 (the
/// thread's first flush) or from the partial sum in `velocity` (a later one) and is multiplied by
/// 1 / (sum of weights) at the end of the final flush. The additions happen in the same order however the
/// picks are split into flushes, so the result is the sum in tile index order.
/// The model outputs travel by cp.async into the thread's own slots of `stage_buffer`, blend_tuning::stage_channels
/// channels per stage with the next stage in flight while one is summed: the loads in flight hold no registers,
/// and nothing per pick but its weight stays in registers (the rest is read again from the staged window).
template <class Policy>
QUADFLOW_DEVICE void flush_picks(const blend_arguments& a, const Policy& policy, const staged_tile* window,
                                 const std::uint8_t* pick_entry, float* stage_buffer, int picks, std::int64_t pixel,
                                 std::int32_t px, std::int32_t py, float pixel_strength, bool started, bool final_flush,
                                 bool& any_non_finite) {
    constexpr int threads = blend_tuning::threads;
    constexpr int G = blend_tuning::stage_channels;
    const std::int64_t plane = std::int64_t(a.width) * a.height;
    const int stages = (a.channels + G - 1) / G;
    int base = 0;
    do {
        const int count = min(picks - base, blend_tuning::chunk);
        const auto issue = [&](int stage) {
            float* buffer = stage_buffer + (stage & 1) * blend_tuning::stage_floats;
            for (int q = 0; q < count; ++q) {
                const staged_tile& s = window[pick_entry[(base + q) * threads]];
                if (s.slot < 0) continue;
                const std::int64_t tile_plane = std::int64_t(s.w) * s.h;
                const float* source =
                    a.model_output + s.slot + std::int64_t(stage) * G * tile_plane + ((py - s.y) * s.w + (px - s.x));
#pragma unroll
                for (int j = 0; j < G; ++j)
                    if (stage * G + j < a.channels)
                        detail::copy_async(buffer + (q * G + j) * threads, source + j * tile_plane);
            }
            detail::commit_async();
        };
        issue(0);
        float weight[blend_tuning::chunk];  // read while the first stage's copies are in flight
#pragma unroll
        for (int q = 0; q < blend_tuning::chunk; ++q) {
            weight[q] = 0.0f;
            if (q >= count) continue;
            const staged_tile& s = window[pick_entry[(base + q) * threads]];
            weight[q] = a.axis_weights[s.row_weights + (py - s.y)] * a.axis_weights[s.column_weights + (px - s.x)];
        }
        for (int stage = 0; stage < stages; ++stage) {
            if (stage + 1 < stages) {
                issue(stage + 1);
                detail::wait_async<1>();  // this stage's copies have landed; the next stage's may still be in flight
            } else {
                detail::wait_async<0>();
            }
            const float* buffer = stage_buffer + (stage & 1) * blend_tuning::stage_floats;
#pragma unroll
            for (int j = 0; j < G; ++j) {
                const std::int32_t c = stage * G + j;
                if (c >= a.channels) break;
                const std::int64_t at = c * plane + pixel;
                const float state = a.x ? a.x[at] : 0.0f;
                const float original = a.original ? a.original[at] : 0.0f;
                float sum = started || base > 0 ? a.velocity[at] : 0.0f;
#pragma unroll
                for (int q = 0; q < blend_tuning::chunk; ++q) {
                    if (q >= count) break;
                    const staged_tile& s = window[pick_entry[(base + q) * threads]];
                    const float vm = s.slot >= 0 ? prediction::to_flow_velocity(a.kind, buffer[(q * G + j) * threads],
                                                                                state, a.sigma)
                                                 : 0.0f;
                    any_non_finite = any_non_finite || quadflow::detail::non_finite_bit(vm) != 0;
                    float v;
                    if constexpr (policy::linear_policy<Policy>) {
                        v = s.linear(policy::element{vm, state, original, a.strength ? pixel_strength : 0.0f});
                    } else {
                        const policy::tile_context context = a.contexts[s.index];
                        v = policy.velocity(context, policy::element{vm, state, original,
                                                                     a.strength ? pixel_strength : context.strength});
                    }
                    sum += weight[q] * v;
                }
                if (final_flush && base + blend_tuning::chunk >= picks) sum *= a.inverse_weight_sum[pixel];
                a.velocity[at] = sum;
            }
        }
        base += blend_tuning::chunk;
    } while (base < picks);
}

/// One thread per pixel of a blend block (one thread block per block of the coverage). The block stages its
/// list of covering tiles in shared memory, blend_tuning::window at a time; each thread picks the tiles that contain
/// its pixel (with their weights) and then reads their model outputs blend_tuning::chunk tiles at a time, every
/// channel, adding the terms in tile index order. A thread's partial sums live in its own output pixels
/// between flushes, so the order never depends on scheduling.
template <class Policy>
QUADFLOW_KERNEL void __launch_bounds__(blend_tuning::threads, blend_tuning::min_blocks)
    blend_tiles(const blend_arguments a, const Policy policy) {
    constexpr int threads = blend_tuning::threads;
    __shared__ staged_tile window[blend_tuning::window];
    __shared__ std::uint8_t pick_entry[blend_tuning::picks * threads];
    __shared__ float stage_buffer[2 * blend_tuning::stage_floats];

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
    for (std::int32_t first = begin; first < end || (first == begin && begin == end); first += blend_tuning::window) {
        const int staged = static_cast<int>(min(end - first, std::int32_t{blend_tuning::window}));
        __syncthreads();
        if (thread < staged) {
            const std::int32_t t = a.block_tiles[first + thread];
            const device_tile tile = a.tiles[t];
            const tile_step step = a.steps[t];
            window[thread] = staged_tile{
                t, tile.x, tile.y, tile.w, tile.h, step.slot, step.linear, tile.row_weights, tile.column_weights};
        }
        __syncthreads();
        const bool last_window = first + blend_tuning::window >= end;
        for (int k = 0; inside;) {
            for (; k < staged && picks < blend_tuning::picks; ++k) {
                const staged_tile& s = window[k];
                const std::int32_t lx = px - s.x, ly = py - s.y;
                if (lx < 0 || lx >= s.w || ly < 0 || ly >= s.h) continue;
                pick_entry[picks * threads + thread] = static_cast<std::uint8_t>(k);
                ++picks;
            }
            const bool window_done = k >= staged;
            if (picks == blend_tuning::picks || (window_done && (picks > 0 || last_window))) {
                flush_picks(a, policy, window, pick_entry + thread, stage_buffer + thread, picks, pixel, px, py,
                            pixel_strength, started, window_done && last_window, any_non_finite);
                started = true;
                picks = 0;
            }
            if (window_done) break;
        }
        if (begin == end) break;
    }
    if (any_non_finite) atomicAnd(&a.non_finite->none_found, 0u);
}

}  // namespace quadflow::cuda::kernels
