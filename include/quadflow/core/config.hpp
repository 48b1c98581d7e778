// quadflow core configuration: host/device function macros and CPU dispatch, shared by CPU and CUDA code paths.
#pragma once

#include <cstddef>  // defines __GLIBC__ where the C library is glibc (ifunc, which CPU dispatch needs)

#if defined(__CUDACC__) || defined(__HIPCC__)
#define QUADFLOW_HOST_DEVICE __host__ __device__
#define QUADFLOW_DEVICE __device__
#else
#define QUADFLOW_HOST_DEVICE
#define QUADFLOW_DEVICE
#endif

#define QUADFLOW_INLINE inline

// QUADFLOW_CPU_DISPATCH: on x86-64 Linux (glibc) with GCC, the hot CPU loops it marks are compiled twice, for
// baseline x86-64 and for x86-64-v3 (AVX2, FMA), and the loader picks one for the running CPU (ifunc).
// Define QUADFLOW_NO_CPU_DISPATCH to build one version for the compiler's target; ThreadSanitizer builds get one
// version too (its instrumented ifunc resolver runs before the sanitizer is set up and crashes). Results within one
// machine do not change; the x86-64-v3 version may round multiply-adds once (FMA) where baseline rounds twice.
// QUADFLOW_X86_64_V3 marks a function compiled for x86-64-v3 only, called after a CPU check
// (quadflow::cpu_has_x86_64_v3) where QUADFLOW_HAS_CPU_DISPATCH is 1.
#if defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__CUDACC__) && !defined(__AVX2__) && !defined(__SANITIZE_THREAD__) && !defined(QUADFLOW_NO_CPU_DISPATCH)
#define QUADFLOW_HAS_CPU_DISPATCH 1
#define QUADFLOW_CPU_DISPATCH __attribute__((target_clones("default", "arch=x86-64-v3")))
#define QUADFLOW_X86_64_V3 __attribute__((target("arch=x86-64-v3"), flatten))
#else
#define QUADFLOW_HAS_CPU_DISPATCH 0
#define QUADFLOW_CPU_DISPATCH
#define QUADFLOW_X86_64_V3
#endif

namespace quadflow {

/// Whether the running CPU has what x86-64-v3 code needs (AVX2, FMA, BMI2, ...); false where the build has
/// no dispatch.
inline bool cpu_has_x86_64_v3() {
#if QUADFLOW_HAS_CPU_DISPATCH
    static const bool has = __builtin_cpu_supports("x86-64-v3");
    return has;
#else
    return false;
#endif
}

}  // namespace quadflow
