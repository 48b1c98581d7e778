// quadflow canvas field: a tile model evaluated on the whole canvas as one tile, as a velocity field.
#pragma once

#include <vector>

#include "quadflow/model/concepts.hpp"
#include "quadflow/sampler/concepts.hpp"

namespace quadflow::model {

/// Untiled reference: every evaluation sends the whole canvas (each image of the batch as one tile)
/// to the model and converts its prediction to flow velocity. This is a plain (img2img or txt2img)
/// run, the baseline the tiled fields are compared with.
template <tile_model M>
class canvas_field {
public:
    explicit canvas_field(M& model) : model_(&model) {}

    void operator()(const_view x, double sigma, mutable_view velocity) {
        require_same_shape(velocity.shape(), x.shape(), "velocity", "x");
        prediction::require_convertible(model_->prediction_kind(), sigma);
        const auto& sh = x.shape();
        tiles_.resize(static_cast<std::size_t>(sh.n));
        for (std::int64_t n = 0; n < sh.n; ++n) {
            const rect whole{0, 0, sh.w, sh.h};
            tiles_[static_cast<std::size_t>(n)] = tile_info{whole, whole, n, n};
        }
        ++evaluations_;
        (*model_)(batch_request{x, sigma, step_, tiles_}, velocity);
        prediction::to_flow_velocity(model_->prediction_kind(), const_view(velocity), x, sigma, velocity);
    }

    /// Called by quadflow::sampler::sample before each step; the model sees this step index.
    void on_step(int step, double /*sigma*/, double /*sigma_next*/) { step_ = step; }

    int evaluations() const { return evaluations_; }

private:
    M* model_;
    std::vector<tile_info> tiles_;
    int step_ = -1;
    int evaluations_ = 0;
};

}  // namespace quadflow::model
