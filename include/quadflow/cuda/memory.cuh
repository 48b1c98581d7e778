// quadflow CUDA memory: owning device buffers, pinned host buffers and events (move-only RAII over the CUDA runtime).
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/memory.cuh needs nvcc"
#endif

#include <cuda_runtime.h>

#include <cstddef>
#include <span>
#include <string>
#include <utility>

#include "quadflow/cuda/error.cuh"

namespace quadflow::cuda {

/// `count` elements of T in device memory (uninitialised); freed on destruction.
template <class T>
class device_buffer {
public:
    device_buffer() = default;
    explicit device_buffer(std::size_t count) : count_(count) {
        if (count > 0) QUADFLOW_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T)));
    }
    device_buffer(device_buffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
    device_buffer& operator=(device_buffer&& other) noexcept {
        if (this != &other) {
            release();
            data_ = std::exchange(other.data_, nullptr);
            count_ = std::exchange(other.count_, 0);
        }
        return *this;
    }
    ~device_buffer() { release(); }

    T* data() const { return data_; }
    std::size_t size() const { return count_; }
    std::size_t bytes() const { return count_ * sizeof(T); }

    /// Enqueues a copy of `values` (at most size() elements) to the start of the buffer on `stream`.
    void upload(std::span<const T> values, cudaStream_t stream) {
        if (values.size() > count_)
            throw invalid_argument("device_buffer.upload", std::to_string(values.size()) + " values",
                                   "must fit the buffer's " + std::to_string(count_));
        if (!values.empty())
            QUADFLOW_CUDA_CHECK(
                cudaMemcpyAsync(data_, values.data(), values.size_bytes(), cudaMemcpyHostToDevice, stream));
    }

private:
    void release() noexcept {
        if (data_) cudaFree(data_);
        data_ = nullptr;
        count_ = 0;
    }
    T* data_ = nullptr;
    std::size_t count_ = 0;
};

/// `count` elements of T in page-locked host memory, so that cudaMemcpyAsync from or to it is asynchronous.
template <class T>
class pinned_buffer {
public:
    pinned_buffer() = default;
    explicit pinned_buffer(std::size_t count) : count_(count) {
        if (count > 0) QUADFLOW_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&data_), count * sizeof(T)));
    }
    pinned_buffer(pinned_buffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
    pinned_buffer& operator=(pinned_buffer&& other) noexcept {
        if (this != &other) {
            release();
            data_ = std::exchange(other.data_, nullptr);
            count_ = std::exchange(other.count_, 0);
        }
        return *this;
    }
    ~pinned_buffer() { release(); }

    T* data() const { return data_; }
    std::size_t size() const { return count_; }
    std::size_t bytes() const { return count_ * sizeof(T); }
    T& operator[](std::size_t i) const { return data_[i]; }

private:
    void release() noexcept {
        if (data_) cudaFreeHost(data_);
        data_ = nullptr;
        count_ = 0;
    }
    T* data_ = nullptr;
    std::size_t count_ = 0;
};

/// A CUDA event without timing, for ordering host work after stream work.
class event {
public:
    event() { QUADFLOW_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
    event(const event&) = delete;
    event& operator=(const event&) = delete;
    ~event() { cudaEventDestroy(event_); }

    void record(cudaStream_t stream) { QUADFLOW_CUDA_CHECK(cudaEventRecord(event_, stream)); }
    /// Waits until the work recorded before it is done (at once when it was never recorded).
    void wait() { QUADFLOW_CUDA_CHECK(cudaEventSynchronize(event_)); }

private:
    cudaEvent_t event_{};
};

}  // namespace quadflow::cuda
