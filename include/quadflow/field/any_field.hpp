// quadflow runtime field choice: the tiled field of a policy picked at run time (policy::any_policy) as one type, and
// the layouts a tiled img2img runs on, built in one order for every front end (the app, the engine bridge).
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <variant>

#include "quadflow/core/tensor.hpp"
#include "quadflow/field/options.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/policy/any_policy.hpp"
#include "quadflow/sampler/concepts.hpp"
#include "quadflow/tile/conditions.hpp"
#include "quadflow/tile/layout.hpp"
#include "quadflow/tile/model_tiles.hpp"

namespace quadflow::field {

/// tiled_field<M, P> for the P that `policy` holds, behind one type: what a sampler needs of a field (on_step, the
/// evaluation) and the field's stats. The arguments are tiled_field's; one virtual call per evaluation and step.
template <model::tile_model M>
class any_field {
public:
    any_field(M& model, const tile::layout& layout, shape4 canvas, const policy::any_policy& policy,
              const field_options& options, const_view original = {}, const_view strength_map = {})
        : field_(std::visit(
              [&](const auto& p) -> std::unique_ptr<erased> {
                  return std::make_unique<holder<std::decay_t<decltype(p)>>>(model, layout, canvas, p, options,
                                                                             original, strength_map);
              },
              policy)) {}

    /// tiled_field::on_step: the step handshake (step index, its sigma and the next).
    void on_step(int step, double sigma, double sigma_next) { field_->on_step(step, sigma, sigma_next); }
    /// The flow velocity of the canvas state `x` at noise level `sigma` (sigma convention), into `velocity`.
    void operator()(const_view x, double sigma, mutable_view velocity) { field_->evaluate(x, sigma, velocity); }
    const field_stats& stats() const { return field_->stats(); }

private:
    struct erased {
        virtual ~erased() = default;
        virtual void on_step(int step, double sigma, double sigma_next) = 0;
        virtual void evaluate(const_view x, double sigma, mutable_view velocity) = 0;
        virtual const field_stats& stats() const = 0;
    };
    template <class P>
    struct holder final : erased {
        tiled_field<M, P> field;
        holder(M& model, const tile::layout& layout, shape4 canvas, const P& policy, const field_options& options,
               const_view original, const_view strength_map)
            : field(model, layout, canvas, policy, options, original, strength_map) {}
        void on_step(int step, double sigma, double sigma_next) override { field.on_step(step, sigma, sigma_next); }
        void evaluate(const_view x, double sigma, mutable_view velocity) override { field(x, sigma, velocity); }
        const field_stats& stats() const override { return field.stats(); }
    };
    std::unique_ptr<erased> field_;
};

/// The layouts of a tiled img2img: the strength tiles (quadtree leaves or a grid: the strengths, and the mask
/// policy's painted map) and the tiles the model runs on.
struct img2img_layouts {
    tile::layout strength_tiles;
    tile::layout model_tiles;
};

/// The model runs on model-sized tiles of `strength_tiles` (tile::build_model_tiles with `model_tiles`), or on the
/// strength tiles themselves when unset; with `labels`, each model tile takes the condition of the region covering
/// most of its core (tile::assign_conditions).
inline img2img_layouts make_img2img_layouts(tile::layout strength_tiles,
                                            const std::optional<tile::model_tile_options>& model_tiles,
                                            const tile::label_image* labels = nullptr) {
    img2img_layouts out;
    out.model_tiles = model_tiles ? tile::build_model_tiles(strength_tiles, *model_tiles) : strength_tiles;
    out.strength_tiles = std::move(strength_tiles);
    if (labels) tile::assign_conditions(out.model_tiles, *labels);
    return out;
}

static_assert(sampler::velocity_field<any_field<model::callback_model<model::detail::archetype_callback>>>);

}  // namespace quadflow::field
