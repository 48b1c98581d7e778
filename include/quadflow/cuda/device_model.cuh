// quadflow CUDA model interface: the user's tile model working on device memory, enqueued on a CUDA stream.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/device_model.cuh needs nvcc"
#endif

#include <cuda_runtime.h>

#include <concepts>
#include <utility>

#include "quadflow/core/tensor.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/prediction/prediction.hpp"

namespace quadflow::cuda {

/// device_tile_model: the user's model callback for cuda::device_tiled_field.
///
/// Requirements, for `M& m`, `const model::batch_request& request`, `mutable_view out`, `cudaStream_t stream`:
/// - `m.prediction_kind()` returns the quadflow::prediction::kind that `m` writes; the field converts it
///   to flow velocity on the device.
/// - `m(request, out, stream)` writes one prediction per element of `request.x` into `out` (same shape).
///   Both views are device memory (memory_space::device); `request.tiles` (padded and core rectangles,
///   ids, image index) is host memory. The work is enqueued on `stream` (or ordered with it, e.g. through
///   events): the field enqueues its own work on the same stream and does not wait for the model.
/// - Conditioning is captured by `m`; throwing aborts the step and propagates to the sampler's caller.
///
/// Minimal conforming type: `device_callback_model` built by `make_device_model(kind, callable)`.
template <class M>
concept device_tile_model = requires(M& m, const model::batch_request& request, mutable_view out, cudaStream_t stream) {
    { m.prediction_kind() } -> std::same_as<prediction::kind>;
    m(request, out, stream);
};

/// Wraps any `void(const model::batch_request&, mutable_view, cudaStream_t)` callable with the kind it predicts.
template <class F>
class device_callback_model {
public:
    device_callback_model(prediction::kind kind, F fn) : kind_(kind), fn_(std::move(fn)) {}
    prediction::kind prediction_kind() const { return kind_; }
    void operator()(const model::batch_request& request, mutable_view out, cudaStream_t stream) {
        fn_(request, out, stream);
    }

private:
    prediction::kind kind_;
    F fn_;
};

template <class F>
device_callback_model<F> make_device_model(prediction::kind kind, F fn) {
    return device_callback_model<F>(kind, std::move(fn));
}

namespace detail {
struct archetype_device_callback {
    void operator()(const model::batch_request&, mutable_view, cudaStream_t) const {}
};
}  // namespace detail
static_assert(device_tile_model<device_callback_model<detail::archetype_device_callback>>);

}  // namespace quadflow::cuda
