// quadflow CUDA kernel attributes: QUADFLOW_KERNEL, __global__ with hidden visibility, as CCCL marks its kernels.
//
// A kernel template instantiated in two shared objects must not resolve to one of them: with default
// visibility the dynamic linker may bind both launch stubs to the first library's, which launches a kernel
// of that library's fat binary (wrong architecture or wrong code). CCCL marks every kernel
// CCCL_DETAIL_KERNEL_ATTRIBUTES = __global__ _CCCL_VISIBILITY_HIDDEN for this reason; quadflow's kernels do the same.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/detail/kernel.cuh needs nvcc"
#endif

#if defined(_MSC_VER)
#define QUADFLOW_KERNEL __global__
#else
#define QUADFLOW_KERNEL __global__ __attribute__((visibility("hidden")))
#endif
