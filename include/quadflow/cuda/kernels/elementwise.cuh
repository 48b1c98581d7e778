// quadflow CUDA elementwise kernels: the Euler update x += dt * v and the noised img2img start, grid-stride loops.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/kernels/elementwise.cuh needs nvcc"
#endif

#include <cstdint>

#include "quadflow/cuda/detail/kernel.cuh"
#include "quadflow/sampler/euler_math.hpp"

namespace quadflow::cuda::kernels {

template <class Value>
QUADFLOW_KERNEL void euler_step(Value* x, const Value* velocity, std::int64_t count, Value dt) {
    for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < count;
         i += std::int64_t(gridDim.x) * blockDim.x)
        x[i] = sampler::euler_update(x[i], velocity[i], dt);
}

/// x = keep * original + sigma * noise with keep = float(1 - sigma), as sampler::noised_original computes it.
template <class Value>
QUADFLOW_KERNEL void noised_original(const Value* original, const Value* noise, std::int64_t count, Value keep,
                                     Value sigma, Value* out) {
    for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < count;
         i += std::int64_t(gridDim.x) * blockDim.x)
        out[i] = keep * original[i] + sigma * noise[i];
}

}  // namespace quadflow::cuda::kernels
