// quadflow tiled velocity field: the user's tile model over a layout, blended into one canvas velocity.
//
// Per evaluation (sigma convention, v = dx/dsigma = noise - x0):
//   1. ask the policy which tiles need the model at this step; plan batches of equal padded shape;
//   2. gather those padded tiles from the canvas (mirror reflection outside it) and call the model;
//   3. convert its prediction to flow velocity and reject NaN/Inf, naming tile and step;
//   4. for every tile in index order, apply the policy per element and accumulate w * v into the
//      canvas; multiply by the reciprocal of the summed weights (fixed per layout, computed once).
// Accumulating in tile order makes the result bit-identical for any tile_batch_size. After the first
// evaluation nothing is allocated.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/prediction/prediction.hpp"
#include "quadflow/schedule/strength.hpp"
#include "quadflow/schedule/validate.hpp"
#include "quadflow/tile/batching.hpp"
#include "quadflow/tile/layout.hpp"
#include "quadflow/tile/weights.hpp"

namespace quadflow::field {

struct field_options {
    tile::weight_params weights{tile::weight_kind::gaussian, 0.01f};
    int tile_batch_size = 4;
    /// The schedule the sampler runs (sigma convention). Needed by `strength` (start step of each
    /// tile), `mask` (tau) and `progress_ramp` (step / N); optional for the others.
    std::vector<double> sigmas;
    /// How a tile's strength d maps to its start step on `sigmas` (the `strength` policy).
    schedule::strength_rule strength_rule = schedule::strength_rule::diffusers;
};

/// Work counters, accumulated over all evaluations.
struct field_stats {
    std::int64_t evaluations = 0;   ///< calls of the field
    std::int64_t model_calls = 0;   ///< batches sent to the model
    std::int64_t calls_saved = 0;   ///< batches not sent because no tile in them needed the model
    std::int64_t tiles_evaluated = 0;  ///< tiles sent to the model
    std::int64_t tile_pixels = 0;   ///< padded tile pixels (h * w, all channels counted once) sent
};

template <model::tile_model M, policy::velocity_policy P>
class tiled_field {
public:
    /// `canvas`: shape of the latents the sampler will pass (N x C x H x W with H, W = the layout's).
    /// `original`: the clean latent (img2img), shape of the canvas; required when P::needs_original.
    /// `strength_map`: per-pixel strength in [0, 1] (N or 1) x 1 x H x W, for the `mask` policy.
    tiled_field(M& model, const tile::layout& layout, shape4 canvas, P policy, field_options options,
                const_view original = {}, const_view strength_map = {})
        : model_(&model), layout_(layout), canvas_(canvas), policy_(policy), options_(std::move(options)),
          original_(original), strength_map_(strength_map) {
        tile::validate(layout_);
        require(canvas.n >= 1 && canvas.c >= 1, "canvas", to_string(canvas), "needs N >= 1 and C >= 1");
        if (canvas.h != layout_.height || canvas.w != layout_.width)
            throw shape_error("canvas " + to_string(canvas) + " does not match the layout's " +
                              std::to_string(layout_.width) + "x" + std::to_string(layout_.height) +
                              " latent pixels");
        require(options_.tile_batch_size >= 1, "tile_batch_size", options_.tile_batch_size, "must be >= 1");
        check_inputs();
        prepare_tiles();
        prepare_weights();
        prepare_groups();
    }

    /// Called by quadflow::sampler::sample before each step: evaluations until the next call belong
    /// to step `step` (Heun's corrector included).
    void on_step(int step, double /*sigma*/, double /*sigma_next*/) {
        require(step >= 0, "step", step, "must be >= 0");
        step_ = step;
    }

    void operator()(const_view x, double sigma, mutable_view velocity) {
        require_contiguous_host(x, "x");
        require_contiguous_host(velocity, "velocity");
        require_same_shape(x.shape(), canvas_, "x", "the field's canvas");
        require_same_shape(velocity.shape(), canvas_, "velocity", "the field's canvas");
        require(std::isfinite(sigma) && sigma > 0.0 && sigma <= 1.0, "sigma", sigma, "must be in (0, 1]");
        if (step_ < 0)
            throw error("tiled_field: no step index; call on_step(step, sigma, sigma_next) before evaluating "
                        "(quadflow::sampler::sample does)");
        prediction::require_convertible(model_->prediction_kind(), sigma);
        ++stats_.evaluations;
        for (std::int64_t n = 0; n < canvas_.n; ++n) evaluate_image(x, sigma, velocity, n);
    }

    const field_stats& stats() const { return stats_; }
    const tile::layout& layout() const { return layout_; }
    /// Model batches one evaluation makes when every tile needs the model.
    std::int64_t full_batches() const { return full_batches_; }

private:
    struct tile_plan {
        std::int64_t group = 0;        ///< index into groups_
        std::int64_t weight_offset = 0;  ///< into axis_weights_: padded.h row weights then padded.w column weights
        int start_step = 0;            ///< img2img start step for its strength
        std::int64_t min_pixel_side = 0;
        float max_pixel_strength = 1.0f;
    };
    struct batch {
        std::int64_t group = 0;
        std::int64_t first = 0;   ///< into batch_tiles_
        std::int64_t count = 0;
        std::int64_t offset = 0;  ///< element offset into the arenas
    };

    void check_inputs() {
        if constexpr (P::needs_original) {
            if (original_.data() == nullptr)
                throw invalid_argument("original", "none",
                                       std::string("the ") + std::string(P::name) +
                                           " policy needs the clean original latent (img2img); txt2img has none");
        }
        if (original_.data() != nullptr) {
            require_contiguous_host(original_, "original");
            require_same_shape(original_.shape(), canvas_, "original", "the canvas");
            for (std::int64_t i = 0; i < original_.numel(); ++i)
                if (!std::isfinite(original_.data()[i]))
                    throw invalid_argument("original[" + std::to_string(i) + "]", detail::to_text(original_.data()[i]),
                                           "the original latent must be finite");
        }
        const bool mask_policy = std::string_view(P::name) == "mask";
        if (mask_policy && strength_map_.data() == nullptr)
            throw invalid_argument("strength_map", "none", "the mask policy needs a per-pixel strength map");
        if (strength_map_.data() != nullptr) {
            require_contiguous_host(strength_map_, "strength_map");
            const shape4 s = strength_map_.shape();
            if (!((s.n == 1 || s.n == canvas_.n) && s.c == 1 && s.h == canvas_.h && s.w == canvas_.w))
                throw shape_error("strength_map has shape " + to_string(s) + " but the canvas " + to_string(canvas_) +
                                  " needs [1 or N, 1, H, W]");
            for (std::int64_t i = 0; i < strength_map_.numel(); ++i) {
                const float m = strength_map_.data()[i];
                require(std::isfinite(m) && m >= 0.0f && m <= 1.0f, "strength_map[" + std::to_string(i) + "]", m,
                        "must be in [0, 1]");
            }
        }
        const bool needs_schedule = std::string_view(P::name) == "strength" || mask_policy ||
                                    std::string_view(P::name) == "progress_ramp";
        if (needs_schedule)
            require(options_.sigmas.size() >= 2, "field_options.sigmas.size()", options_.sigmas.size(),
                    std::string("the ") + std::string(P::name) + " policy needs the schedule being sampled");
        if (!options_.sigmas.empty()) schedule::validate_schedule(options_.sigmas);
    }

    void prepare_tiles() {
        const std::size_t count = layout_.tiles.size();
        plans_.resize(count);
        const std::size_t steps = options_.sigmas.empty() ? 1 : options_.sigmas.size() - 1;
        for (std::size_t t = 0; t < count; ++t) {
            const tile::tile& tl = layout_.tiles[t];
            tile_plan& p = plans_[t];
            p.min_pixel_side = std::min(tl.core.w, tl.core.h) * layout_.latent_scale;
            p.start_step = options_.sigmas.empty()
                               ? 0
                               : static_cast<int>(schedule::img2img_start_index(options_.strength_rule, steps, tl.denoise));
        }
    }

    void prepare_weights() {
        // Separable weights: per tile, one factor per padded row and one per padded column.
        std::int64_t total = 0;
        for (std::size_t t = 0; t < plans_.size(); ++t) {
            plans_[t].weight_offset = total;
            total += layout_.tiles[t].padded.h + layout_.tiles[t].padded.w;
        }
        axis_weights_.assign(static_cast<std::size_t>(total), 0.0f);
        for (std::size_t t = 0; t < plans_.size(); ++t) {
            const tile::tile& tl = layout_.tiles[t];
            float* rows = axis_weights_.data() + plans_[t].weight_offset;
            float* cols = rows + tl.padded.h;
            for (std::int64_t i = 0; i < tl.padded.h; ++i)
                rows[i] = tile::axis_weight(options_.weights, i, tl.padded.h, tl.overlap_top(), tl.overlap_bottom());
            for (std::int64_t i = 0; i < tl.padded.w; ++i)
                cols[i] = tile::axis_weight(options_.weights, i, tl.padded.w, tl.overlap_left(), tl.overlap_right());
        }
        // Reciprocal of the summed weights per canvas pixel, and the mask maximum per tile.
        const std::int64_t H = layout_.height, W = layout_.width;
        std::vector<double> sum(static_cast<std::size_t>(H * W), 0.0);
        for (std::size_t t = 0; t < plans_.size(); ++t) {
            const tile::tile& tl = layout_.tiles[t];
            const float* rows = axis_weights_.data() + plans_[t].weight_offset;
            const float* cols = rows + tl.padded.h;
            for (std::int64_t y = std::max<std::int64_t>(tl.padded.y, 0); y < std::min(tl.padded.bottom(), H); ++y)
                for (std::int64_t x = std::max<std::int64_t>(tl.padded.x, 0); x < std::min(tl.padded.right(), W); ++x)
                    sum[static_cast<std::size_t>(y * W + x)] +=
                        double(rows[y - tl.padded.y]) * double(cols[x - tl.padded.x]);
        }
        inverse_weight_sum_.resize(sum.size());
        for (std::size_t i = 0; i < sum.size(); ++i) {
            if (!(sum[i] > 0.0) || !std::isfinite(sum[i]))
                throw invalid_argument("weights", tile::to_string(options_.weights.kind),
                                       "summed weight at pixel " + std::to_string(i) + " is " + std::to_string(sum[i]));
            inverse_weight_sum_[i] = static_cast<float>(1.0 / sum[i]);
        }
        if (strength_map_.data() != nullptr) {
            for (std::size_t t = 0; t < plans_.size(); ++t) {
                const tile::tile& tl = layout_.tiles[t];
                float peak = 0.0f;
                for (std::int64_t n = 0; n < strength_map_.shape().n; ++n)
                    for (std::int64_t y = 0; y < tl.padded.h; ++y)
                        for (std::int64_t x = 0; x < tl.padded.w; ++x)
                            peak = std::max(peak, strength_map_(n, 0, reflect_index(tl.padded.y + y, H),
                                                                reflect_index(tl.padded.x + x, W)));
                plans_[t].max_pixel_strength = peak;
            }
        }
    }

    void prepare_groups() {
        // One group per padded shape, tiles in index order: make_batches with an unbounded batch size.
        groups_ = tile::make_batches(layout_, std::numeric_limits<int>::max());
        std::int64_t arena = 0;
        for (std::size_t g = 0; g < groups_.size(); ++g)
            for (std::int64_t t : groups_[g].tiles) {
                plans_[static_cast<std::size_t>(t)].group = static_cast<std::int64_t>(g);
                arena += groups_[g].width * groups_[g].height * canvas_.c;
            }
        full_batches_ = 0;
        for (const tile::tile_batch& g : groups_)
            full_batches_ += (static_cast<std::int64_t>(g.tiles.size()) + options_.tile_batch_size - 1) /
                             options_.tile_batch_size;
        input_arena_.assign(static_cast<std::size_t>(arena), 0.0f);
        output_arena_.assign(static_cast<std::size_t>(arena), 0.0f);
        slot_.assign(plans_.size(), -1);
        batch_tiles_.assign(plans_.size(), 0);
        batch_infos_.assign(plans_.size(), model::tile_info{});
        batches_.reserve(static_cast<std::size_t>(full_batches_));
    }

    policy::tile_context context(std::size_t t, double sigma) const {
        policy::tile_context c;
        c.denoise = static_cast<float>(layout_.tiles[t].denoise);
        c.sigma = static_cast<float>(sigma);
        c.step = step_;
        c.total_steps = options_.sigmas.empty() ? 1 : static_cast<int>(options_.sigmas.size()) - 1;
        c.start_step = plans_[t].start_step;
        if (options_.sigmas.size() >= 2) {
            const double first = options_.sigmas.front(), last = options_.sigmas.back();
            c.tau = static_cast<float>((sigma - last) / (first - last));
        }
        c.min_pixel_side = plans_[t].min_pixel_side;
        c.max_pixel_strength = plans_[t].max_pixel_strength;
        return c;
    }

    void plan_batches(double sigma) {
        batches_.clear();
        std::int64_t offset = 0, placed = 0;
        for (std::size_t g = 0; g < groups_.size(); ++g) {
            const tile::tile_batch& group = groups_[g];
            const std::int64_t tile_elements = group.width * group.height * canvas_.c;
            for (std::int64_t t : group.tiles) {
                if (!policy_.needs_model(context(static_cast<std::size_t>(t), sigma))) {
                    slot_[static_cast<std::size_t>(t)] = -1;
                    continue;
                }
                if (batches_.empty() || batches_.back().group != static_cast<std::int64_t>(g) ||
                    batches_.back().count == options_.tile_batch_size)
                    batches_.push_back(batch{static_cast<std::int64_t>(g), placed, 0, offset});
                batch_tiles_[static_cast<std::size_t>(placed++)] = t;
                ++batches_.back().count;
                slot_[static_cast<std::size_t>(t)] = offset;
                offset += tile_elements;
            }
        }
    }

    void gather(const_view x, std::int64_t n, const rect& r, float* out) const {
        const std::int64_t H = canvas_.h, W = canvas_.w;
        for (std::int64_t c = 0; c < canvas_.c; ++c)
            for (std::int64_t y = 0; y < r.h; ++y) {
                const float* row = &x(n, c, reflect_index(r.y + y, H), 0);
                float* dst = out + (c * r.h + y) * r.w;
                const std::int64_t inside_begin = std::clamp<std::int64_t>(-r.x, 0, r.w);
                const std::int64_t inside_end = std::clamp<std::int64_t>(W - r.x, inside_begin, r.w);
                for (std::int64_t i = 0; i < inside_begin; ++i) dst[i] = row[reflect_index(r.x + i, W)];
                std::memcpy(dst + inside_begin, row + r.x + inside_begin,
                            static_cast<std::size_t>(inside_end - inside_begin) * sizeof(float));
                for (std::int64_t i = inside_end; i < r.w; ++i) dst[i] = row[reflect_index(r.x + i, W)];
            }
    }

    void call_model(const batch& b, const_view x, double sigma, std::int64_t n) {
        const tile::tile_batch& group = groups_[static_cast<std::size_t>(b.group)];
        const shape4 batch_shape{b.count, canvas_.c, group.height, group.width};
        const std::int64_t tile_elements = group.width * group.height * canvas_.c;
        for (std::int64_t i = 0; i < b.count; ++i) {
            const auto t = static_cast<std::size_t>(batch_tiles_[static_cast<std::size_t>(b.first + i)]);
            const tile::tile& tl = layout_.tiles[t];
            gather(x, n, tl.padded, input_arena_.data() + b.offset + i * tile_elements);
            batch_infos_[static_cast<std::size_t>(b.first + i)] = model::tile_info{tl.padded, tl.core, tl.id, n};
        }
        const const_view input(input_arena_.data() + b.offset, batch_shape);
        const mutable_view output(output_arena_.data() + b.offset, batch_shape);
        const model::batch_request request{
            input, sigma, step_,
            std::span<const model::tile_info>(batch_infos_.data() + b.first, static_cast<std::size_t>(b.count))};
        (*model_)(request, output);
        ++stats_.model_calls;
        stats_.tiles_evaluated += b.count;
        stats_.tile_pixels += b.count * group.width * group.height;

        const prediction::kind kind = model_->prediction_kind();
        const float s = static_cast<float>(sigma);
        float* out = output_arena_.data() + b.offset;
        const float* in = input_arena_.data() + b.offset;
        for (std::int64_t i = 0; i < b.count * tile_elements; ++i) {
            const float v = prediction::to_flow_velocity(kind, out[i], in[i], s);
            if (!std::isfinite(v)) {
                const std::int64_t item = i / tile_elements;
                const auto& info = batch_infos_[static_cast<std::size_t>(b.first + item)];
                throw model_error("model output is " + detail::to_text(out[i]) + " (flow velocity " +
                                  detail::to_text(v) + ") at step " + std::to_string(step_) + ", sigma " +
                                  detail::to_text(sigma) + ", in tile " + std::to_string(info.id) + " " +
                                  to_string(info.padded) + ", element " + std::to_string(i % tile_elements));
            }
            out[i] = v;
        }
    }

    void accumulate(const_view x, double sigma, mutable_view velocity, std::int64_t n) {
        const std::int64_t H = canvas_.h, W = canvas_.w, C = canvas_.c;
        float* v = &velocity(n, 0, 0, 0);
        const float* xs = &x(n, 0, 0, 0);
        const float* originals = original_.data() != nullptr ? &original_(n, 0, 0, 0) : nullptr;
        const float* strengths = strength_map_.data() != nullptr
                                     ? &strength_map_(strength_map_.shape().n == 1 ? 0 : n, 0, 0, 0)
                                     : nullptr;
        std::fill(v, v + C * H * W, 0.0f);
        for (std::size_t t = 0; t < plans_.size(); ++t) {
            const tile::tile& tl = layout_.tiles[t];
            const policy::tile_context ctx = context(t, sigma);
            const float* rows = axis_weights_.data() + plans_[t].weight_offset;
            const float* cols = rows + tl.padded.h;
            const std::int64_t slot = slot_[t];
            const float* model_v = slot >= 0 ? output_arena_.data() + slot : nullptr;
            const std::int64_t y0 = std::max<std::int64_t>(tl.padded.y, 0), y1 = std::min(tl.padded.bottom(), H);
            const std::int64_t x0 = std::max<std::int64_t>(tl.padded.x, 0), x1 = std::min(tl.padded.right(), W);
            const float d = ctx.denoise;
            for (std::int64_t c = 0; c < C; ++c)
                for (std::int64_t y = y0; y < y1; ++y) {
                    const float wy = rows[y - tl.padded.y];
                    const std::int64_t canvas_row = (c * H + y) * W;
                    const std::int64_t tile_row = (c * tl.padded.h + (y - tl.padded.y)) * tl.padded.w - tl.padded.x;
                    for (std::int64_t px = x0; px < x1; ++px) {
                        const std::int64_t i = canvas_row + px;
                        const policy::element e{model_v ? model_v[tile_row + px] : 0.0f, xs[i],
                                                originals ? originals[i] : 0.0f,
                                                strengths ? strengths[y * W + px] : d};
                        v[i] += (wy * cols[px - tl.padded.x]) * policy_.velocity(ctx, e);
                    }
                }
        }
        for (std::int64_t c = 0; c < C; ++c) {
            float* plane = v + c * H * W;
            for (std::int64_t i = 0; i < H * W; ++i) plane[i] *= inverse_weight_sum_[static_cast<std::size_t>(i)];
        }
    }

    void evaluate_image(const_view x, double sigma, mutable_view velocity, std::int64_t n) {
        plan_batches(sigma);
        for (const batch& b : batches_) call_model(b, x, sigma, n);
        stats_.calls_saved += full_batches_ - static_cast<std::int64_t>(batches_.size());
        accumulate(x, sigma, velocity, n);
    }

    M* model_;
    tile::layout layout_;
    shape4 canvas_;
    P policy_;
    field_options options_;
    const_view original_;
    const_view strength_map_;

    std::vector<tile_plan> plans_;
    std::vector<tile::tile_batch> groups_;
    std::vector<float> axis_weights_;
    std::vector<float> inverse_weight_sum_;
    std::vector<float> input_arena_, output_arena_;
    std::vector<std::int64_t> slot_;
    std::vector<std::int64_t> batch_tiles_;
    std::vector<model::tile_info> batch_infos_;
    std::vector<batch> batches_;
    std::int64_t full_batches_ = 0;
    int step_ = -1;
    field_stats stats_;
};

}  // namespace quadflow::field
