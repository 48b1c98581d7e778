// quadflow adapter: a whole-latent x0 callback (stable-diffusion.cpp denoise callback, ComfyUI model wrapper) as a tile
// model.
#pragma once

#include <cstdint>
#include <utility>

#include "quadflow/model/concepts.hpp"

namespace quadflow::model {

/// latent_denoiser_callback: `f(const_view latent, double sigma, int step, mutable_view denoised)`
/// receives one latent (N = 1, NCHW) at noise level `sigma` and writes its x0 estimate ("denoised",
/// sigma convention: x = (1 - sigma) x0 + sigma noise) into `denoised`, the way stable-diffusion.cpp's
/// denoise callback and ComfyUI's model function wrapper do.
template <class F>
concept latent_denoiser_callback = requires(F& f, const_view latent, double sigma, int step, mutable_view denoised) {
    f(latent, sigma, step, denoised);
};

/// Presents each tile of a batch to a whole-latent callback as a latent of its own.
template <latent_denoiser_callback F>
class latent_denoiser {
public:
    explicit latent_denoiser(F fn) : fn_(std::move(fn)) {}
    prediction::kind prediction_kind() const { return prediction::kind::denoised; }

    void operator()(const batch_request& request, mutable_view out) {
        check_request(request, out);
        const auto& sh = request.x.shape();
        const shape4 one{1, sh.c, sh.h, sh.w};
        for (std::int64_t b = 0; b < sh.n; ++b) {
            const_view item(
                &request.x(b, 0, 0, 0), one,
                strides4{request.x.strides().n, request.x.strides().c, request.x.strides().h, request.x.strides().w},
                request.x.space());
            mutable_view target(&out(b, 0, 0, 0), one,
                                strides4{out.strides().n, out.strides().c, out.strides().h, out.strides().w},
                                out.space());
            fn_(item, request.sigma, request.step, target);
        }
    }

private:
    F fn_;
};

namespace detail {
struct archetype_denoiser {
    void operator()(const_view, double, int, mutable_view) const {}
};
}  // namespace detail
static_assert(tile_model<latent_denoiser<detail::archetype_denoiser>>);

}  // namespace quadflow::model
