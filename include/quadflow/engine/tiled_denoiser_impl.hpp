// quadflow engine bridge, implementation (C++20): include it in exactly one C++20 translation unit of the engine.
//
// It defines the out-of-line members of quadflow::engine::tiled_denoiser (not inline, so that the engine's C++17
// files link against them), as stb's implementation headers do: a second translation unit including it would
// define them twice.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "quadflow/engine/tiled_denoiser.hpp"
#include "quadflow/field/any_field.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/policy/any_policy.hpp"
#include "quadflow/policy/strength_map.hpp"
#include "quadflow/schedule/strength.hpp"
#include "quadflow/schedule/validate.hpp"
#include "quadflow/tile/conditions.hpp"
#include "quadflow/tile/grid.hpp"
#include "quadflow/tile/model_tiles.hpp"
#include "quadflow/tile/quadtree.hpp"

namespace quadflow::engine {

struct tiled_denoiser::state {
    /// The engine's batch model as a quadflow tile model (denoised slot).
    struct engine_model {
        state* owner = nullptr;
        prediction::kind prediction_kind() const { return prediction::kind::denoised; }
        void operator()(const model::batch_request& request, mutable_view out) {
            model::check_request(request, out);
            const shape4 s = request.x.shape();
            owner->metas.resize(request.tiles.size());
            for (std::size_t i = 0; i < request.tiles.size(); ++i) {
                const model::tile_info& t = request.tiles[i];
                owner->metas[i] =
                    tile_meta{to_latent_rect(t.padded),        to_latent_rect(t.core),        t.id,
                              to_latent_rect(t.padded_pixels), to_latent_rect(t.core_pixels), t.condition};
            }
            owner->crops.resize(request.auxiliary.size());
            for (std::size_t k = 0; k < request.auxiliary.size(); ++k) {
                const shape4 a = request.auxiliary[k].shape();
                owner->crops[k] = auxiliary_crops{request.auxiliary[k].data(), static_cast<int>(a.c),
                                                  static_cast<int>(a.h), static_cast<int>(a.w)};
            }
            tile_batch batch;
            batch.x = request.x.data();
            batch.denoised = out.data();
            batch.count = static_cast<int>(s.n);
            batch.channels = static_cast<int>(s.c);
            batch.height = static_cast<int>(s.h);
            batch.width = static_cast<int>(s.w);
            batch.sigma = static_cast<float>(request.sigma);
            batch.step = owner->engine_step;
            batch.tiles = owner->metas.data();
            batch.canvas_width = static_cast<int>(request.canvas.width);
            batch.canvas_height = static_cast<int>(request.canvas.height);
            batch.latent_scale = request.canvas.latent_scale;
            batch.auxiliary = owner->crops.data();
            batch.auxiliary_count = static_cast<int>(owner->crops.size());
            owner->engine(batch);
            owner->keep_sole_outputs(request, out);
        }
    };

    static latent_rect to_latent_rect(const rect& r) { return latent_rect{r.x, r.y, r.w, r.h}; }

    batch_denoiser engine;
    step_numbering numbering;
    std::vector<double> sigmas;
    tile::layout strength_tiles, model_tiles;
    shape4 shape;
    host_tensor original, strength_map, velocity;
    engine_model model{this};
    std::vector<tile_meta> metas;
    std::vector<auxiliary_crops> crops;
    std::vector<host_tensor> auxiliary;
    int engine_step = 0;
    std::unique_ptr<field::any_field<engine_model>> field;
    // Pixels whose padded rectangle only one model tile covers: that tile's index (else -1), the engine's denoised
    // output there in this evaluation, and the evaluation it belongs to. The field blends velocities; where a pixel's
    // velocity is exactly that one output's (or the original's) conversion, the bridge hands the engine the value
    // itself instead of x - sigma v, which float rounding would move by an ulp (and a sensitive model amplifies).
    std::vector<std::int64_t> sole_tile;
    std::unordered_map<std::int64_t, std::int64_t> tile_index_of_id;
    std::vector<float> sole_denoised;
    std::vector<std::uint32_t> sole_evaluation;
    std::uint32_t evaluation = 0;

    void find_sole_tiles() {
        const std::int64_t W = model_tiles.width, H = model_tiles.height;
        std::vector<int> cover(static_cast<std::size_t>(W * H), 0);
        sole_tile.assign(static_cast<std::size_t>(W * H), -1);
        for (std::size_t t = 0; t < model_tiles.tiles.size(); ++t) {
            const tile::layout_tile& tl = model_tiles.tiles[t];
            tile_index_of_id[tl.id] = static_cast<std::int64_t>(t);
            const rect in = clipped(tl.padded, W, H);
            for (std::int64_t y = in.y; y < in.bottom(); ++y)
                for (std::int64_t x = in.x; x < in.right(); ++x) {
                    const auto k = static_cast<std::size_t>(y * W + x);
                    ++cover[k];
                    sole_tile[k] = static_cast<std::int64_t>(t);
                }
        }
        for (std::size_t k = 0; k < cover.size(); ++k)
            if (cover[k] != 1) sole_tile[k] = -1;
        sole_denoised.assign(static_cast<std::size_t>(shape.numel()), 0.0f);
        sole_evaluation.assign(cover.size(), 0);
    }

    void keep_sole_outputs(const model::batch_request& request, const_view out) {
        const std::int64_t W = model_tiles.width, H = model_tiles.height, C = shape.c;
        for (std::size_t i = 0; i < request.tiles.size(); ++i) {
            const auto found = tile_index_of_id.find(request.tiles[i].id);
            if (found == tile_index_of_id.end()) continue;
            const rect& r = request.tiles[i].padded;
            const rect in = clipped(r, W, H);
            const float* tile_out = out.data() + static_cast<std::int64_t>(i) * C * r.h * r.w;
            for (std::int64_t y = in.y; y < in.bottom(); ++y)
                for (std::int64_t x = in.x; x < in.right(); ++x) {
                    const auto k = static_cast<std::size_t>(y * W + x);
                    if (sole_tile[k] != found->second) continue;
                    sole_evaluation[k] = evaluation;
                    for (std::int64_t c = 0; c < C; ++c)
                        sole_denoised[static_cast<std::size_t>(c * W * H) + k] =
                            tile_out[(c * r.h + (y - r.y)) * r.w + (x - r.x)];
                }
        }
    }

    state(batch_denoiser engine_model_fn, const tiling_settings& s)
        : engine(std::move(engine_model_fn)), numbering(s.numbering), sigmas(s.sigmas.begin(), s.sigmas.end()) {
        if (!engine) throw invalid_argument("model", "empty", "the tiled denoiser needs the engine's batch model");
        require(sigmas.size() >= 2, "tiling_settings.sigmas.size()", sigmas.size(),
                "needs the schedule the engine samples (at least 2 sigmas)");
        schedule::validate_schedule(sigmas);
        require(s.numbering == step_numbering::from_zero || s.numbering == step_numbering::sdcpp,
                "tiling_settings.numbering", static_cast<int>(s.numbering), "must be from_zero or sdcpp");
        require(s.latent_scale >= 1, "tiling_settings.latent_scale", s.latent_scale, "must be >= 1");
        require(s.tiler == "quadtree" || s.tiler == "grid", "tiling_settings.tiler", s.tiler,
                "must be quadtree or grid");
        const bool quadtree = s.tiler == "quadtree";
        require(s.image_width > 0 && s.image_height > 0, "tiling_settings.image_width", s.image_width,
                "and image_height (" + std::to_string(s.image_height) + ") must be > 0");
        require(!quadtree || s.rgb.size() ==
                                 static_cast<std::size_t>(s.image_width) * static_cast<std::size_t>(s.image_height) * 3,
                "tiling_settings.rgb.size()", s.rgb.size(),
                "must be image_width x image_height x 3 = " + std::to_string(s.image_width) + " x " +
                    std::to_string(s.image_height) + " x 3 (the quadtree is built on the image)");

        if (quadtree) {
            tile::quadtree_options tree;
            tree.latent_scale = s.latent_scale;
            tree.align = std::max(8, s.latent_scale);
            tree.min_strength = s.min_strength;
            tree.max_strength = s.max_strength;
            tree.overlap_pixels = s.leaf_tiles ? s.leaf_overlap_pixels : 0;
            strength_tiles =
                tile::build_quadtree(tile::packed_rgb_view(s.rgb.data(), s.image_width, s.image_height), tree);
        } else {
            require(!s.leaf_tiles, "tiling_settings.leaf_tiles", "true",
                    "sends the quadtree's leaves; the grid tiler has none (use tiler quadtree)");
            tile::grid_options grid;
            grid.tile = s.max_tile;
            grid.overlap_latent = s.overlap_latent;
            grid.latent_scale = s.latent_scale;
            grid.strength = s.max_strength;
            strength_tiles = tile::build_grid(s.image_width / s.latent_scale, s.image_height / s.latent_scale, grid);
        }
        std::optional<tile::model_tile_options> sized;
        if (!s.leaf_tiles && quadtree) {
            sized.emplace();
            sized->min_tile = s.min_tile;
            sized->max_tile = s.max_tile;
            sized->align = s.align;
            sized->overlap_latent = s.overlap_latent;
        }
        const tile::label_image labels{s.region_labels, s.image_width, s.image_height};
        field::img2img_layouts layouts =
            field::make_img2img_layouts(std::move(strength_tiles), sized, s.region_labels.empty() ? nullptr : &labels);
        strength_tiles = std::move(layouts.strength_tiles);
        model_tiles = std::move(layouts.model_tiles);
        const std::int64_t plane = model_tiles.width * model_tiles.height;
        require(!s.original.empty() && static_cast<std::int64_t>(s.original.size()) % plane == 0,
                "tiling_settings.original.size()", s.original.size(),
                "must be channels x " + std::to_string(model_tiles.height) + " x " + std::to_string(model_tiles.width) +
                    " (the image's latent size)");
        shape = shape4{1, static_cast<std::int64_t>(s.original.size()) / plane, model_tiles.height, model_tiles.width};
        original = host_tensor(shape);
        std::copy(s.original.begin(), s.original.end(), original.data());
        if (s.strength_map.empty()) {
            strength_map = policy::paint_strength_map(strength_tiles);
        } else {
            require(static_cast<std::int64_t>(s.strength_map.size()) == plane, "tiling_settings.strength_map.size()",
                    s.strength_map.size(),
                    "must be the latent's " + std::to_string(model_tiles.height) + " x " +
                        std::to_string(model_tiles.width) + " pixels");
            for (std::size_t k = 0; k < s.strength_map.size(); ++k)
                require(s.strength_map[k] >= 0.0f && s.strength_map[k] <= 1.0f, "tiling_settings.strength_map",
                        s.strength_map[k],
                        "must be in [0, 1] (latent pixel " + std::to_string(k % model_tiles.width) + ", " +
                            std::to_string(k / model_tiles.width) + ")");
            strength_map = host_tensor(shape4{1, 1, model_tiles.height, model_tiles.width});
            std::copy(s.strength_map.begin(), s.strength_map.end(), strength_map.data());
        }
        velocity = host_tensor(shape);
        find_sole_tiles();

        field::field_options options;
        options.sigmas = sigmas;
        options.strength_rule = schedule::parse_strength_rule(s.strength_rule);
        options.tile_batch_size = s.tile_batch_size;
        for (std::size_t k = 0; k < s.auxiliary.size(); ++k) {
            const auxiliary_image& a = s.auxiliary[k];
            const std::string name = "tiling_settings.auxiliary[" + std::to_string(k) + "]";
            require(a.channels >= 1 && a.scale >= 1, name + ".channels", a.channels,
                    "must be >= 1, and scale (" + std::to_string(a.scale) + ") too");
            const shape4 aux_shape{1, a.channels, model_tiles.height * a.scale, model_tiles.width * a.scale};
            require(static_cast<std::int64_t>(a.values.size()) == aux_shape.numel(), name + ".values.size()",
                    a.values.size(),
                    "must be channels x (latent height * scale) x (latent width * scale) = " +
                        std::to_string(aux_shape.numel()));
            auxiliary.emplace_back(aux_shape);
            std::copy(a.values.begin(), a.values.end(), auxiliary.back().data());
        }
        for (std::size_t k = 0; k < auxiliary.size(); ++k)
            options.auxiliary.push_back({auxiliary[k].cview(), s.auxiliary[k].scale});
        const policy::any_policy chosen = policy::parse_policy(s.policy);
        field = std::make_unique<field::any_field<engine_model>>(
            model, model_tiles, shape, chosen, options, original.cview(),
            policy::needs_strength_map(chosen) ? strength_map.cview() : const_view{});
    }

    /// The schedule step an engine's step number names.
    int schedule_step(int step) const {
        if (numbering == step_numbering::from_zero) {
            require(step >= 0, "step", step,
                    "must be >= 0 with steps numbered from 0 (tiling_settings::numbering = from_zero)");
            return step;
        }
        require(step != 0, "step", step,
                "stable-diffusion.cpp numbers steps from 1 (i + 1, or -(i + 1) for the first call of a two-call step); "
                "for steps from 0 set tiling_settings::numbering = step_numbering::from_zero");
        return std::abs(step) - 1;
    }

    std::string numbered(int step) const {
        return numbering == step_numbering::sdcpp ? "stable-diffusion.cpp step " + std::to_string(step)
                                                  : "step " + std::to_string(step);
    }

    void denoise(const float* x, float sigma, int step, float* denoised) {
        if (x == nullptr || denoised == nullptr)
            throw invalid_argument(x == nullptr ? "x" : "denoised", "nullptr",
                                   "the denoiser needs the latent's memory");
        const int i = schedule_step(step);
        const int steps = static_cast<int>(sigmas.size()) - 1;
        if (i >= steps)
            throw invalid_argument("step", std::to_string(step),
                                   "names schedule step " + std::to_string(i) +
                                       ", past the last step of tiling_settings.sigmas (" + std::to_string(steps) +
                                       " steps): the engine samples a longer schedule than the "
                                       "bridge was given");
        const double from = sigmas[static_cast<std::size_t>(i)], to = sigmas[static_cast<std::size_t>(i) + 1];
        if (!(sigma <= from + field::detail::schedule_tolerance && sigma >= to - field::detail::schedule_tolerance))
            throw invalid_argument("sigma", quadflow::detail::to_text(sigma),
                                   "the engine's " + numbered(step) + " is schedule step " + std::to_string(i) +
                                       ", which runs from sigma " + quadflow::detail::to_text(from) + " to " +
                                       quadflow::detail::to_text(to) +
                                       " in tiling_settings.sigmas; give the bridge the schedule the engine samples "
                                       "(after img2img truncation) and the engine's step numbering");
        engine_step = step;
        ++evaluation;
        field->on_step(i, from, to);
        const std::size_t plane = static_cast<std::size_t>(shape.h * shape.w);
        const const_view xv(x, shape);
        (*field)(xv, sigma, velocity.view());
        const float* v = velocity.data();
        const float* o = original.data();
        for (std::size_t c = 0, k = 0; c < static_cast<std::size_t>(shape.c); ++c)
            for (std::size_t p = 0; p < plane; ++p, ++k) {
                if (sole_evaluation[p] == evaluation &&
                    prediction::to_flow_velocity(prediction::kind::denoised, sole_denoised[k], x[k], sigma) == v[k]) {
                    denoised[k] = sole_denoised[k];  // one tile's output, passed through by the policy
                } else if ((1.0f / sigma) * (x[k] - o[k]) == v[k]) {
                    denoised[k] = o[k];  // kept: the policy's exact preservation velocity
                } else {
                    denoised[k] = x[k] - sigma * v[k];  // x0 = x - sigma v
                }
            }
    }
};

tiled_denoiser::tiled_denoiser(batch_denoiser model, const tiling_settings& settings)
    : state_(std::make_unique<state>(std::move(model), settings)) {}
tiled_denoiser::tiled_denoiser(tiled_denoiser&&) noexcept = default;
tiled_denoiser& tiled_denoiser::operator=(tiled_denoiser&&) noexcept = default;
tiled_denoiser::~tiled_denoiser() = default;

void tiled_denoiser::operator()(const float* x, float sigma, int step, float* denoised) {
    state_->denoise(x, sigma, step, denoised);
}

int tiled_denoiser::model_tile_count() const { return static_cast<int>(state_->model_tiles.tiles.size()); }
int tiled_denoiser::strength_tile_count() const { return static_cast<int>(state_->strength_tiles.tiles.size()); }
int tiled_denoiser::smallest_model_tile() const {
    std::int64_t smallest = std::max(state_->model_tiles.width, state_->model_tiles.height);
    for (const tile::layout_tile& t : state_->model_tiles.tiles) smallest = std::min({smallest, t.core.w, t.core.h});
    return static_cast<int>(smallest);
}
std::int64_t tiled_denoiser::model_calls() const { return state_->field->stats().model_calls; }
std::int64_t tiled_denoiser::tiles_evaluated() const { return state_->field->stats().tiles_evaluated; }

std::vector<float> sdcpp_img2img_schedule(const std::vector<float>& sigmas, float strength) {
    require(sigmas.size() >= 2, "sigmas.size()", sigmas.size(), "needs a schedule of at least one step");
    require(strength > 0.0f && strength <= 1.0f, "strength", strength, "must be in (0, 1]");
    const std::size_t steps = sigmas.size() - 1;
    if (strength >= 1.0f) return sigmas;
    auto t_enc = static_cast<std::size_t>(static_cast<float>(steps) * strength);
    if (t_enc == steps) --t_enc;
    return std::vector<float>(sigmas.begin() + static_cast<std::ptrdiff_t>(steps - t_enc - 1), sigmas.end());
}

}  // namespace quadflow::engine
