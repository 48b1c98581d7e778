// quadflow canvas field: a tile model evaluated on the whole canvas as one tile, as a velocity field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quadflow/core/finite.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/sampler/concepts.hpp"

namespace quadflow::field {

/// Untiled reference: every evaluation sends the whole canvas (each image of the batch as one tile)
/// to the model and converts its prediction to flow velocity. This is a plain (img2img or txt2img)
/// run, the baseline the tiled fields are compared with.
template <model::tile_model M>
class canvas_field {
public:
    explicit canvas_field(M& model) : model_(&model) {}

    void operator()(const_view x, double sigma, mutable_view velocity) {
        require_same_shape(velocity.shape(), x.shape(), "velocity", "x");
        require_contiguous_host(velocity, "velocity");
        prediction::require_convertible(model_->prediction_kind(), sigma);
        const auto& sh = x.shape();
        tiles_.resize(static_cast<std::size_t>(sh.n));
        for (std::int64_t n = 0; n < sh.n; ++n) {
            const rect whole{0, 0, sh.w, sh.h};
            tiles_[static_cast<std::size_t>(n)] = model::tile_info{whole, whole, n, n, whole, whole, 0};  // scale 1
        }
        require_finite(x, "x", "the canvas state handed to the field must be finite");
        ++evaluations_;
        (*model_)(model::batch_request{x, sigma, step_, tiles_, model::canvas_info{sh.w, sh.h, 1}, {}}, velocity);
        prediction::to_flow_velocity(model_->prediction_kind(), const_view(velocity), x, sigma, velocity);
        if (quadflow::detail::any_non_finite(velocity.data(), velocity.numel())) {
            const std::int64_t i = quadflow::detail::first_non_finite(velocity.data(), velocity.numel());
            throw model_error("model output gives a non-finite flow velocity (" +
                              quadflow::detail::to_text(velocity.data()[i]) + ") at step " + std::to_string(step_) +
                              ", sigma " + quadflow::detail::to_text(sigma) + ", element " + std::to_string(i) +
                              " of the canvas " + to_string(x.shape()));
        }
    }

    /// Called by quadflow::sampler::sample before each step; the model sees this step index.
    void on_step(int step, double /*sigma*/, double /*sigma_next*/) { step_ = step; }

    int evaluations() const { return evaluations_; }

private:
    M* model_;
    std::vector<model::tile_info> tiles_;
    int step_ = -1;
    int evaluations_ = 0;
};

}  // namespace quadflow::field
