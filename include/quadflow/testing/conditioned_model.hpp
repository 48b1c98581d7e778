// quadflow test double for per-tile conditioning: a model whose prediction (denoised, x0) depends only on each tile's
// condition index and on its crop of auxiliary canvas 0, so a test can tell from the output which condition and which
// crop every tile was given.
//
// For tile i of a batch, channel c and tile pixel (y, x):
//   x0 = colours[condition_i][c] + control_gain * aux0_i[min(c, C_aux - 1)][y * s][x * s]
// where aux0_i is the tile's crop of request.auxiliary[0] (s its scale per latent pixel; the term is 0 without one).
// Each condition pulls toward its own colour, and the control image's pixel under each latent pixel's top-left corner
// is copied into the prediction.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/prediction/prediction.hpp"

namespace quadflow::testing {

class conditioned_model {
public:
    /// colours[k][c]: condition k's value for channel c (each entry as many values as the canvas has channels).
    conditioned_model(std::vector<std::vector<float>> colours, float control_gain)
        : colours_(std::move(colours)), control_gain_(control_gain) {
        require(!colours_.empty(), "colours.size()", 0, "must be >= 1 (one colour per condition)");
    }
    prediction::kind prediction_kind() const { return prediction::kind::denoised; }

    void operator()(const model::batch_request& request, mutable_view out) {
        model::check_request(request, out);
        const shape4 s = request.x.shape();
        const const_view* control = request.auxiliary.empty() ? nullptr : &request.auxiliary[0];
        const std::int64_t scale = control ? control->shape().w / s.w : 1;
        for (std::int64_t i = 0; i < s.n; ++i) {
            const std::int32_t k = request.tiles[static_cast<std::size_t>(i)].condition;
            require(k >= 0 && k < static_cast<std::int32_t>(colours_.size()), "condition", k,
                    "must be < colours.size() = " + std::to_string(colours_.size()));
            const std::vector<float>& colour = colours_[static_cast<std::size_t>(k)];
            require(static_cast<std::int64_t>(colour.size()) == s.c, "colours[" + std::to_string(k) + "].size()",
                    colour.size(), "must be the channel count " + std::to_string(s.c));
            ++calls_by_condition_[static_cast<std::size_t>(k)];
            for (std::int64_t c = 0; c < s.c; ++c)
                for (std::int64_t y = 0; y < s.h; ++y)
                    for (std::int64_t x = 0; x < s.w; ++x) {
                        float v = colour[static_cast<std::size_t>(c)];
                        if (control)
                            v += control_gain_ *
                                 (*control)(i, std::min(c, control->shape().c - 1), y * scale, x * scale);
                        out(i, c, y, x) = v;
                    }
        }
    }

    /// Tiles predicted per condition, over every call.
    std::vector<std::int64_t> tiles_by_condition() const { return calls_by_condition_; }

private:
    std::vector<std::vector<float>> colours_;
    float control_gain_;
    std::vector<std::int64_t> calls_by_condition_ = std::vector<std::int64_t>(colours_.size(), 0);
};
static_assert(model::tile_model<conditioned_model>);

}  // namespace quadflow::testing
