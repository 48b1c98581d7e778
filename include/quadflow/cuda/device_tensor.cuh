// quadflow CUDA tensors: an owning, contiguous float32 NCHW tensor in device memory, with views and host copies.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/device_tensor.cuh needs nvcc"
#endif

#include <cuda_runtime.h>

#include <cstddef>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/cuda/error.cuh"
#include "quadflow/cuda/memory.cuh"

namespace quadflow::cuda {

class device_tensor {
public:
    device_tensor() = default;
    /// Uninitialised device memory of `shape`.
    explicit device_tensor(shape4 shape) : shape_(shape), buffer_(static_cast<std::size_t>(checked(shape).numel())) {}
    /// A device copy of `values`, enqueued on `stream`.
    device_tensor(const host_tensor& values, cudaStream_t stream) : device_tensor(values.shape()) {
        upload(values, stream);
    }

    const shape4& shape() const { return shape_; }
    std::int64_t numel() const { return shape_.numel(); }
    float* data() { return buffer_.data(); }
    const float* data() const { return buffer_.data(); }
    mutable_view view() { return {buffer_.data(), shape_, memory_space::device}; }
    const_view view() const { return {buffer_.data(), shape_, memory_space::device}; }
    const_view cview() const { return view(); }

    /// Enqueues a copy of `values` (same shape) on `stream`.
    void upload(const host_tensor& values, cudaStream_t stream) {
        require_same_shape(values.shape(), shape_, "host values", "device tensor");
        buffer_.upload(values.span(), stream);
    }
    /// The values on the host: enqueues the copy on `stream` and waits for it.
    host_tensor download(cudaStream_t stream) const {
        host_tensor values(shape_);
        if (numel() > 0) {
            QUADFLOW_CUDA_CHECK(
                cudaMemcpyAsync(values.data(), buffer_.data(), buffer_.bytes(), cudaMemcpyDeviceToHost, stream));
            QUADFLOW_CUDA_CHECK(cudaStreamSynchronize(stream));
        }
        return values;
    }

private:
    static shape4 checked(shape4 s) {
        require(s.n >= 0 && s.c >= 0 && s.h >= 0 && s.w >= 0, "device_tensor.shape", to_string(s),
                "every extent must be >= 0");
        return s;
    }
    shape4 shape_{};
    device_buffer<float> buffer_;
};

}  // namespace quadflow::cuda
