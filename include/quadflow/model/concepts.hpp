// quadflow model interface: the user's callback that predicts for a batch of tiles, and its metadata.
#pragma once

#include <concepts>
#include <cstdint>
#include <span>
#include <utility>

#include "quadflow/core/rect.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/prediction/prediction.hpp"

namespace quadflow::model {

/// Where one batch item comes from.
struct tile_info {
    rect padded;                 ///< the tile as sent to the model, in canvas latent pixels (may extend past the
                                 ///< canvas; those pixels are mirror reflections, see quadflow::reflect_index)
    rect core;                   ///< the part of `padded` the tile is responsible for
    std::int64_t id = 0;         ///< stable tile id within its layout
    std::int64_t image = 0;      ///< which image of the canvas batch (canvas N index)
    rect padded_pixels;          ///< `padded` in image pixels (padded * latent_scale)
    rect core_pixels;            ///< `core` in image pixels
    std::int32_t condition = 0;  ///< the tile's condition index (tile::layout_tile::condition)
};

/// The canvas a batch's tiles come from.
struct canvas_info {
    std::int64_t width = 0, height = 0;  ///< in latent pixels
    int latent_scale = 1;                ///< image pixels per latent pixel
};

/// One model call: a batch of same-shaped tiles at one noise level.
struct batch_request {
    const_view x;                      ///< N tiles, NCHW, state at `sigma` (sigma convention)
    double sigma = 1.0;                ///< noise level; FLUX takes sigma itself as its timestep
    int step = -1;                     ///< index of the schedule step being evaluated, -1 if unknown
    std::span<const tile_info> tiles;  ///< one entry per batch item, tiles.size() == x.shape().n
    canvas_info canvas;                ///< the canvas's size (zero when the caller did not say)
    /// One crop batch per auxiliary canvas (field_options::auxiliary, in its order): N x C_k x (h * s_k) x (w * s_k)
    /// for tiles of h x w latent px and scale s_k, gathered with the latent's padding and reflection; in the memory
    /// space of `x`.
    std::span<const const_view> auxiliary;
};

/// Whether model M takes tiles of different condition indices in one batch: it declares
/// `static constexpr bool mixed_conditions = true;`. Otherwise the fields never mix conditions in a batch.
template <class M>
inline constexpr bool accepts_mixed_conditions = requires {
    requires M::mixed_conditions;
};

/// tile_model: the user's model callback.
///
/// Requirements, for `M& m`, `const batch_request& request`, `mutable_view out`:
/// - `m.prediction_kind()` returns the quadflow::prediction::kind that `m` writes (flow velocity,
///   denoised, t velocity or epsilon); the library converts it to flow velocity.
/// - `m(request, out)` writes one prediction per element of `request.x` into `out`, which has the
///   shape of `request.x`. Memory space of both views is the one the field works in (host for the
///   CPU field, device for the CUDA field).
/// - Conditioning (prompt embeddings, ControlNet inputs, ...) is captured by `m` itself; per-tile
///   conditioning is chosen from `request.tiles[i].condition` (and the tile's rectangles), and per-tile crops of
///   control images, masks or depth maps arrive in `request.auxiliary` (docs/conditioning.md). The tiles of one
///   batch share a condition unless `M::mixed_conditions` is true.
/// - Throwing from `m` aborts the step; the exception propagates to the caller of the sampler.
///
/// Minimal conforming type: `callback_model` built by `make_model(kind, callable)`.
template <class M>
concept tile_model = requires(M& m, const batch_request& request, mutable_view out) {
    { m.prediction_kind() } -> std::same_as<prediction::kind>;
    m(request, out);
};

/// batch_callback: what make_model wraps. Requirements, for `F& f`, `const batch_request& request`,
/// `mutable_view out`: `f(request, out)` is valid, i.e. the callable has the signature
/// `void(const quadflow::model::batch_request& request, quadflow::mutable_view out)` (any return type is
/// ignored). A callable of another signature, e.g. the whole-latent `(const_view, double sigma, int step,
/// mutable_view)` of an engine's denoise callback, is rejected where it is wrapped: wrap that one in
/// latent_denoiser instead.
template <class F>
concept batch_callback = std::invocable<F&, const batch_request&, mutable_view>;

/// Wraps any `void(const batch_request&, mutable_view)` callable with the kind it predicts.
template <batch_callback F>
class callback_model {
public:
    callback_model(prediction::kind kind, F fn) : kind_(kind), fn_(std::move(fn)) {}
    prediction::kind prediction_kind() const { return kind_; }
    void operator()(const batch_request& request, mutable_view out) { fn_(request, out); }

private:
    prediction::kind kind_;
    F fn_;
};

template <batch_callback F>
callback_model<F> make_model(prediction::kind kind, F fn) {
    return callback_model<F>(kind, std::move(fn));
}

namespace detail {
struct archetype_callback {
    void operator()(const batch_request&, mutable_view) const {}
};
}  // namespace detail
static_assert(tile_model<callback_model<detail::archetype_callback>>);

/// Checks a request/output pair before it reaches a model.
inline void check_request(const batch_request& request, const mutable_view& out) {
    require_same_shape(out.shape(), request.x.shape(), "model output", "model input");
    if (static_cast<std::int64_t>(request.tiles.size()) != request.x.shape().n)
        throw invalid_argument("batch_request.tiles.size()", std::to_string(request.tiles.size()),
                               "must equal the batch size N = " + std::to_string(request.x.shape().n));
}

}  // namespace quadflow::model
