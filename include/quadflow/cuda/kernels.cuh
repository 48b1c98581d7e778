// quadflow CUDA kernels, everything: blend arguments, the gather, blend, non-finite search and elementwise kernels, and
// their launchers.
//
// The parts, as CUB separates agents from dispatch:
//   blend_arguments.hpp      what a blend reads, the non-finite record (host-safe)
//   detail/copy_async.cuh    cp.async from global to shared memory
//   detail/kernel.cuh        QUADFLOW_KERNEL: __global__ with hidden visibility
//   kernels/gather.cuh       tiles copied into their batch slots, reflected outside the canvas
//   kernels/blend.cuh        the fused deterministic blend
//   kernels/non_finite.cuh   the first non-finite model velocity, found and recorded
//   kernels/elementwise.cuh  the Euler update, the noised img2img start
//   launch.cuh               host functions that size grids and launch the kernels on a stream
// Kernels are templates on the value type (float) so that these headers can be included in several
// translation units.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/kernels.cuh needs nvcc"
#endif

#include "quadflow/cuda/blend_arguments.hpp"
#include "quadflow/cuda/detail/copy_async.cuh"
#include "quadflow/cuda/detail/kernel.cuh"
#include "quadflow/cuda/kernels/blend.cuh"
#include "quadflow/cuda/kernels/elementwise.cuh"
#include "quadflow/cuda/kernels/gather.cuh"
#include "quadflow/cuda/kernels/non_finite.cuh"
#include "quadflow/cuda/launch.cuh"
