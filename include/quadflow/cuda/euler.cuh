// quadflow CUDA Euler sampler and sampling loop for device latents: x' = x + (sigma' - sigma) * v(x, sigma) on a
// stream.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/euler.cuh needs nvcc"
#endif

#include <cuda_runtime.h>

#include <cmath>
#include <span>
#include <string_view>
#include <utility>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/cuda/device_field.cuh"
#include "quadflow/cuda/launch.cuh"
#include "quadflow/cuda/memory.cuh"
#include "quadflow/sampler/concepts.hpp"
#include "quadflow/sampler/sample.hpp"

namespace quadflow::cuda {

/// The Euler sampler on device latents (a quadflow::sampler::sampler). The field must enqueue its work on
/// the same stream (cuda::device_tiled_field does: pass it the same stream).
class euler {
public:
    static constexpr std::string_view name = "euler";

    explicit euler(cudaStream_t stream = nullptr) : stream_(stream) {}

    /// Allocates the device velocity buffer for `shape` (the only allocation; none when the shape is unchanged).
    void reset(shape4 shape) {
        if (shape == shape_) return;
        velocity_ = device_buffer<float>(static_cast<std::size_t>(shape.numel()));
        shape_ = shape;
    }

    template <sampler::velocity_field F>
    void step(F& field, mutable_view x, double sigma, double sigma_next) {
        require_contiguous_device(x, "x");
        if (!(x.shape() == shape_))
            throw shape_error("cuda::euler: x has shape " + to_string(x.shape()) + " but reset() prepared " +
                              to_string(shape_));
        require(std::isfinite(sigma) && sigma > 0.0 && sigma <= 1.0, "sigma", sigma, "must be in (0, 1]");
        require(std::isfinite(sigma_next) && sigma_next >= 0.0 && sigma_next < sigma, "sigma_next", sigma_next,
                "must be in [0, sigma)");
        const mutable_view velocity(velocity_.data(), shape_, memory_space::device);
        field(const_view(x), sigma, velocity);
        euler_step(x.data(), velocity_.data(), x.numel(), static_cast<float>(sigma_next - sigma), stream_);
    }

    cudaStream_t stream() const { return stream_; }

private:
    cudaStream_t stream_;
    shape4 shape_{};
    device_buffer<float> velocity_;
};
static_assert(sampler::sampler<euler>);

/// Runs `s` over `sigmas` on the device latent `x` (state at sigmas[0], updated in place): the loop of
/// quadflow::sampler::sample (on_step before each step, observer after it; the observer's step_info.x is a
/// device view). Returns when the last step is enqueued; the field's per-evaluation check has waited for
/// every evaluation but the final Euler update, so synchronise the stream before reading x on the host.
template <class S, sampler::velocity_field F, sampler::observer O = sampler::no_observer>
requires sampler::sampler<S, F> sampler::sample_result sample(S& s, F& field, mutable_view x,
                                                              std::span<const double> sigmas, O&& observe = {}) {
    require_contiguous_device(x, "x");
    return sampler::sample(s, field, x, sigmas, std::forward<O>(observe));
}

}  // namespace quadflow::cuda
