// quadflow img2img start: the noised original (1 - sigma0) * x0 + sigma0 * noise that every engine starts from.
#pragma once

#include <cstdint>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"

namespace quadflow::sampler {

/// Writes x = (1 - sigma) * original + sigma * noise (sigma convention) into `out`; `out` may alias
/// either input. sigma = 1 gives the noise (txt2img), sigma = 0 the original.
inline void noised_original(const_view original, const_view noise, double sigma, mutable_view out) {
    require_same_shape(noise.shape(), original.shape(), "noise", "original");
    require_same_shape(out.shape(), original.shape(), "output", "original");
    require(sigma >= 0.0 && sigma <= 1.0, "sigma", sigma, "must be in [0, 1]");
    require_host(original, "original");
    require_host(noise, "noise");
    require_host(out, "output");
    const float keep = static_cast<float>(1.0 - sigma), s = static_cast<float>(sigma);
    const auto& sh = original.shape();
    for (std::int64_t n = 0; n < sh.n; ++n)
        for (std::int64_t c = 0; c < sh.c; ++c)
            for (std::int64_t h = 0; h < sh.h; ++h)
                for (std::int64_t w = 0; w < sh.w; ++w)
                    out(n, c, h, w) = keep * original(n, c, h, w) + s * noise(n, c, h, w);
}

}  // namespace quadflow::sampler
