// quadflow CUDA error checks: a failed CUDA runtime call becomes quadflow::cuda_error naming the call, file:line and
// CUDA's message.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/error.cuh needs nvcc"
#endif

#include <cuda_runtime.h>

#include <string>

#include "quadflow/core/error.hpp"

namespace quadflow::cuda {

/// Throws cuda_error unless `status` is cudaSuccess. The message reads
/// "<call> failed at <file>:<line>: <cudaGetErrorString> (<cudaGetErrorName>)". The runtime's last-error
/// state is cleared first, so that a later launch check does not report this failure again.
inline void check(cudaError_t status, const char* call, const char* file, int line) {
    if (status == cudaSuccess) return;
    cudaGetLastError();
    throw cuda_error(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                     cudaGetErrorString(status) + " (" + cudaGetErrorName(status) + ")");
}

}  // namespace quadflow::cuda

/// Checks a CUDA runtime call: QUADFLOW_CUDA_CHECK(cudaMemcpy(...)) throws quadflow::cuda_error on failure.
#define QUADFLOW_CUDA_CHECK(call) ::quadflow::cuda::check((call), #call, __FILE__, __LINE__)

/// Checks the launch of the kernel just enqueued (configuration errors); `what` names the kernel.
#define QUADFLOW_CUDA_CHECK_LAUNCH(what) \
    ::quadflow::cuda::check(cudaGetLastError(), "launch of " what, __FILE__, __LINE__)
