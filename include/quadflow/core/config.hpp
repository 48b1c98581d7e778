// quadflow core configuration: host/device function macro, shared by CPU and CUDA code paths.
#pragma once

#if defined(__CUDACC__) || defined(__HIPCC__)
#define QUADFLOW_HOST_DEVICE __host__ __device__
#define QUADFLOW_DEVICE __device__
#else
#define QUADFLOW_HOST_DEVICE
#define QUADFLOW_DEVICE
#endif

#define QUADFLOW_INLINE inline
