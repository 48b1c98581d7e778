// quadflow CUDA asynchronous copies: cp.async of one float from global to shared memory, its commit and its wait
// (sm_80+).
//
// Inline PTX (the same instructions cuda::memcpy_async would need a pipeline object for); before sm_80 the copy
// is a plain load and store, and commit and wait do nothing.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/detail/copy_async.cuh needs nvcc"
#endif

#include "quadflow/core/config.hpp"

namespace quadflow::cuda::detail {

/// Starts copying one float from `global` to `shared`.
QUADFLOW_DEVICE inline void copy_async(float* shared, const float* global) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const auto address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(address), "l"(global) : "memory");
#else
    *shared = *global;
#endif
}

/// Closes the group of copies started since the last commit.
QUADFLOW_DEVICE inline void commit_async() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

/// Waits until at most the `Pending` most recent groups are still in flight.
template <int Pending>
QUADFLOW_DEVICE inline void wait_async() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
#endif
}

}  // namespace quadflow::cuda::detail
