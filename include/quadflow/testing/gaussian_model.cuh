// quadflow CUDA test double: model::gaussian_model's exact prediction for a Gaussian target, computed on the device
// (nvcc only).
#pragma once
#ifndef __CUDACC__
#error "quadflow/testing/gaussian_model.cuh needs nvcc"
#endif

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "quadflow/core/error.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/cuda/detail/kernel.cuh"
#include "quadflow/cuda/device_model.cuh"
#include "quadflow/cuda/error.cuh"
#include "quadflow/model/concepts.hpp"
#include "quadflow/model/gaussian_model.hpp"
#include "quadflow/prediction/prediction.hpp"

namespace quadflow::testing {

namespace kernels {

/// Tile origins of up to `capacity` batch items, passed by value to the kernel.
struct tile_origins {
    static constexpr int capacity = 32;
    std::int32_t x[capacity], y[capacity];
};

/// Block (pixel chunk, channel, item): gaussian_velocity per element, written as `kind`.
template <class Value>
QUADFLOW_KERNEL void gaussian_prediction(const Value* x, Value* out, tile_origins origins, std::int32_t h,
                                         std::int32_t w, std::int32_t channels, const Value* mu, std::int32_t mu_h,
                                         std::int32_t mu_w, double sigma, double data_std, prediction::kind kind) {
    const std::int64_t item = blockIdx.z, c = blockIdx.y;
    const std::int64_t offset = (item * channels + c) * h * w;
    for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < std::int64_t(h) * w;
         i += std::int64_t(gridDim.x) * blockDim.x) {
        const std::int64_t cy = reflect_index(origins.y[item] + i / w, mu_h);
        const std::int64_t cx = reflect_index(origins.x[item] + i % w, mu_w);
        const float xv = x[offset + i];
        const double v = model::gaussian_velocity(xv, sigma, mu[(c * mu_h + cy) * mu_w + cx], data_std);
        out[offset + i] = prediction::from_flow_velocity(kind, static_cast<float>(v), xv, static_cast<float>(sigma));
    }
}

}  // namespace kernels

/// A device_tile_model whose "prompt target" is the device tensor `mu` (1 x C x H x W, the canvas) with
/// per-element spread `data_std`: model::gaussian_model on the GPU, element for element.
class device_gaussian_model {
public:
    device_gaussian_model(const_view mu, double data_std, prediction::kind output = prediction::kind::flow_velocity)
        : mu_(mu), data_std_(data_std), output_(output) {
        if (mu.space() != memory_space::device || !mu.is_contiguous())
            throw shape_error("device_gaussian_model.mu must be a contiguous device view");
        require(mu.shape().n == 1, "gaussian_model.mu.shape().n", mu.shape().n, "must be 1 (one target image)");
        require(std::isfinite(data_std) && data_std >= 0.0, "data_std", data_std, "must be finite and >= 0");
    }

    prediction::kind prediction_kind() const { return output_; }
    std::int64_t calls() const { return calls_; }
    std::int64_t tiles_evaluated() const { return tiles_; }

    void operator()(const model::batch_request& request, mutable_view out, cudaStream_t stream) {
        model::check_request(request, out);
        if (request.x.space() != memory_space::device || out.space() != memory_space::device)
            throw shape_error("device_gaussian_model works on device views");
        if (request.x.shape().c != mu_.shape().c)
            throw invalid_argument("model input channels", std::to_string(request.x.shape().c),
                                   "must equal the target's " + std::to_string(mu_.shape().c));
        prediction::require_convertible(output_, request.sigma);
        ++calls_;
        const shape4 s = request.x.shape();
        tiles_ += s.n;
        const std::int64_t pixels = s.h * s.w;
        for (std::int64_t first = 0; first < s.n; first += kernels::tile_origins::capacity) {
            const std::int64_t items = std::min<std::int64_t>(kernels::tile_origins::capacity, s.n - first);
            kernels::tile_origins origins{};
            for (std::int64_t i = 0; i < items; ++i) {
                origins.x[i] = static_cast<std::int32_t>(request.tiles[static_cast<std::size_t>(first + i)].padded.x);
                origins.y[i] = static_cast<std::int32_t>(request.tiles[static_cast<std::size_t>(first + i)].padded.y);
            }
            const dim3 grid(static_cast<unsigned>(std::min<std::int64_t>((pixels + 255) / 256, 1024)),
                            static_cast<unsigned>(s.c), static_cast<unsigned>(items));
            const std::int64_t offset = first * s.c * pixels;
            kernels::gaussian_prediction<float><<<grid, 256, 0, stream>>>(
                request.x.data() + offset, out.data() + offset, origins, static_cast<std::int32_t>(s.h),
                static_cast<std::int32_t>(s.w), static_cast<std::int32_t>(s.c), mu_.data(),
                static_cast<std::int32_t>(mu_.shape().h), static_cast<std::int32_t>(mu_.shape().w), request.sigma,
                data_std_, output_);
            QUADFLOW_CUDA_CHECK_LAUNCH("quadflow::testing::kernels::gaussian_prediction");
        }
    }

private:
    const_view mu_;
    double data_std_;
    prediction::kind output_;
    std::int64_t calls_ = 0, tiles_ = 0;
};
static_assert(cuda::device_tile_model<device_gaussian_model>);

}  // namespace quadflow::testing
