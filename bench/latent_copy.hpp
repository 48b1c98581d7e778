// quadflow benchmarks: memcpy of one latent into another, the baseline of the CPU benchmarks' ratios (2 x 4 bytes
// per element).
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstring>

#include "quadflow/core/tensor.hpp"

namespace quadflow::bench {

/// Copies a latent of `shape` per iteration; bytes_per_second counts one latent read and one written.
inline void measure_latent_copy(benchmark::State& state, shape4 shape) {
    host_tensor source(shape, 0.5f), target(shape, 0.0f);
    for (auto _ : state) {
        std::memcpy(target.data(), source.data(), static_cast<std::size_t>(shape.numel()) * 4);
        benchmark::DoNotOptimize(target.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(state.iterations() * shape.numel() * 2 * 4);
}

}  // namespace quadflow::bench
