// quadflow app pipeline: pixel-space img2img of an image over a quadtree, with an analytic "prompt" model.
//
// By default (`model_tiles` set) the quadtree (the fine tree) only gives the strengths and the model runs on
// model-sized tiles, tile::build_model_tiles of it: the `mask` policy then reads
// the fine tree's painted strength map, so each pixel keeps its leaf's strength while the model sees tiles of
// model size; any other policy sees only each model tile's denoise, the largest of the fine leaves it meets.
// img2img_settings::leaf_tiles() runs the model on the quadtree's own leaves instead, as the seed system does.
//
// The latent is the image itself scaled to [-1, 1] (latent scale 1), so "preserved" can be checked
// pixel for pixel. The default prompt model is the Gaussian model of quadflow::model whose target is the
// original recoloured ("make it red") with a little texture (its data_std): a model whose exact
// velocity is known, standing in for FLUX. With `model_path` the learned flow model (models/flow_unet.pt, through
// LibTorch) runs instead: a model that sees context, so tiles make real seams. `untiled` runs the whole canvas as
// one tile under the `mask` policy with the same per-pixel strength: the reference a tiling is measured against.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "quadflow/field/tiled_field.hpp"
#include "quadflow/metrics/metrics.hpp"
#include "quadflow/model/gaussian_model.hpp"
#include "quadflow/noise/torch_randn.hpp"
#include "quadflow/policy/any_policy.hpp"
#include "quadflow/policy/strength_map.hpp"
#include "quadflow/sampler/any_sampler.hpp"
#include "quadflow/sampler/img2img.hpp"
#include "quadflow/schedule/comfy.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/schedule/strength.hpp"
#include "quadflow/schedule/validate.hpp"
#include "quadflow/tile/conditions.hpp"
#include "quadflow/tile/model_tiles.hpp"
#include "quadflow/tile/quadtree.hpp"
#include "quadflow_app/image_io.hpp"
#include "quadflow_app/learned_model.hpp"
#include "quadflow_app/regions.hpp"

namespace quadflow::app {

/// What FLUX's dynamic shift (mu = flux_mu(width, height)) is taken from.
enum class shift_source {
    tile,    ///< the model tile's size, at most the canvas's: --max-model-tile (x latent_scale); with the quadtree's
             ///< leaves, its max_tile_size (the canvas when unlimited). The model sees tiles, not the canvas.
    canvas,  ///< the whole canvas, as an untiled engine takes it (large canvases collapse the schedule)
};

inline const char* to_string(shift_source s) { return s == shift_source::tile ? "tile" : "canvas"; }

struct img2img_settings {
    std::string policy = "mask";
    policy::preservation preservation = policy::preservation::naive;  ///< for preservation_blend (the seed's)
    std::string sampler = "euler";
    int steps = 20;
    double denoise = 1.0;  ///< global denoise (ComfyUI KSampler truncation of the FLUX schedule)
    schedule::strength_rule strength_rule = schedule::strength_rule::diffusers;
    tile::quadtree_options quadtree = default_quadtree();
    /// smootherstep ramps: with the learned model they come closest to the untiled run at every tile size and overlap
    /// (bench/learned/README.md); leaf_tiles() keeps the seed's Gaussian (Mixture of Diffusers).
    blend::weight_kind weights = blend::weight_kind::smootherstep;
    int tile_batch = 4;
    int threads = 1;                       ///< field_options::threads (the output is bit-identical for any value)
    std::int64_t skip_below = 0;           ///< skip: min image-pixel side below this (the seed's skip_diffusion_below)
    double skip_denoise_at_most = 0.35;    ///< skip: tiles with d at most this are preserved exactly
    std::optional<std::string> mask_path;  ///< mask: a grayscale image of the image's size (white = strength 1)
    std::string mask_flag = "--mask";      ///< the flag that named mask_path (--mask or --strength-map), for errors
    std::optional<double> mask_slope;  ///< mask: limit the map's slope (strength per latent px), policy::slope_limited
    std::uint64_t seed = 42;
    double texture = 0.05;  ///< data_std of the prompt model: texture added on top of the recoloured target
    /// Set (the default): the model runs on build_model_tiles(quadtree, *model_tiles) (see the header comment);
    /// unset: on the quadtree's leaves.
    std::optional<tile::model_tile_options> model_tiles = tile::model_tile_options{};
    std::optional<std::string> model_path;  ///< a TorchScript flow model (learned_model) instead of "make it red"
    int model_threads = 0;                  ///< LibTorch threads for it (0: LibTorch's default)
    /// Set: this process is one rank of a distributed run (field_options::exchange; app::mpi_world for MPI).
    std::shared_ptr<field::batch_exchange> exchange;
    /// Set: each model tile takes the condition of the region covering most of its core; the analytic model pulls
    /// each condition toward its region's target colour, and regions with a strength paint it into the mask policy's
    /// map (regions.hpp). The learned model has no conditions: only the strengths apply to it.
    std::optional<region_map> regions;
    bool untiled = false;                     ///< the whole canvas as one tile (policy mask), the untiled reference
    std::optional<double> constant_strength;  ///< mask: every pixel at this strength instead of the quadtree's
    /// FLUX's shift from the model tile's size (the default) or the canvas's; `untiled` runs keep the tiled run's
    /// schedule unless this says canvas, so that they stay its reference.
    shift_source shift_from = shift_source::tile;

    static tile::quadtree_options default_quadtree() {
        tile::quadtree_options o;
        o.latent_scale = 1;
        o.overlap_pixels = 8;
        return o;
    }

    /// The seed system's setup: the model on the quadtree's own leaves, its Gaussian weights, the `strength` policy.
    static img2img_settings leaf_tiles() {
        img2img_settings s;
        s.policy = "strength";
        s.model_tiles.reset();
        s.weights = blend::weight_kind::gaussian;
        return s;
    }
};

struct img2img_report {
    std::string policy;
    double low_strength_error = 0;    ///< mean |output - original| on tiles with d < 0.5, 0..255
    double high_strength_change = 0;  ///< mean |output - original| on tiles with d >= 0.5, 0..255
    /// Elements each of the two measures covers: 0 when no tile has d < 0.5 (or d >= 0.5); the report says null.
    std::int64_t low_strength_elements = 0, high_strength_elements = 0;
    int model_threads = 0;  ///< the learned model's LibTorch threads (img2img_settings::model_threads; 0: its default)
    double seam_score = 0;  ///< metrics::seam_score at the borders of the tiles the model ran on
    std::int64_t model_calls = 0;
    std::int64_t tile_pixels = 0;
    std::int64_t tiles = 0;               ///< tiles the model ran on
    std::int64_t fine_tiles = 0;          ///< quadtree leaves (equal to tiles without model tiles)
    std::int64_t smallest_tile_side = 0;  ///< smallest core side, image px, of the tiles the model ran on
    double seconds = 0;
    int ranks = 1;                                   ///< processes that shared the model batches
    std::vector<std::int64_t> rank_tile_pixels;      ///< tile-pixels each rank sent to its model (sum: tile_pixels)
    std::int64_t bytes_exchanged = 0;                ///< model output bytes received, summed over the ranks
    std::vector<std::int64_t> tiles_by_condition;    ///< with regions: model tiles per condition index
    shift_source shift_from = shift_source::tile;    ///< what the schedule's shift was taken from
    std::int64_t shift_width = 0, shift_height = 0;  ///< px the shift was computed for (multiples of 16)
    double mu = 0;                                   ///< FLUX's mu for them
    std::vector<double> sigmas;                      ///< the schedule sampled (after --denoise's truncation)
};

struct img2img_result {
    rgb_image output;
    tile::layout layout;        ///< the quadtree (strengths; the report's low/high-strength regions)
    tile::layout model_layout;  ///< the tiles the model ran on: model tiles of `layout`, or a copy of it
    img2img_report report;
};

/// Image bytes -> 1 x 3 x H x W latent in [-1, 1], cropped to width x height.
inline host_tensor to_latent(const rgb_image& image, std::int64_t width, std::int64_t height) {
    host_tensor latent(shape4{1, 3, height, width});
    for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x) {
            const rgb p = image.at(x, y);
            latent(0, 0, y, x) = p.r / 127.5f - 1.0f;
            latent(0, 1, y, x) = p.g / 127.5f - 1.0f;
            latent(0, 2, y, x) = p.b / 127.5f - 1.0f;
        }
    return latent;
}

inline std::uint8_t to_byte(float v) {
    const float scaled = std::round((v + 1.0f) * 127.5f);
    return static_cast<std::uint8_t>(scaled < 0.0f ? 0.0f : (scaled > 255.0f ? 255.0f : scaled));
}

/// Latent in [-1, 1] -> image bytes (display rounding; values outside the range saturate).
inline rgb_image to_image(const_view latent) {
    rgb_image image(latent.shape().w, latent.shape().h);
    for (std::int64_t y = 0; y < image.height; ++y)
        for (std::int64_t x = 0; x < image.width; ++x)
            image.set(x, y, {to_byte(latent(0, 0, y, x)), to_byte(latent(0, 1, y, x)), to_byte(latent(0, 2, y, x))});
    return image;
}

/// A prompt's target: 0.55 x the original + `shift` per channel (0.45 x the colour it pulls toward, in [-1, 1]).
inline host_tensor recoloured(const host_tensor& original, const float (&shift)[3]) {
    host_tensor target = original;
    const auto& s = original.shape();
    for (std::int64_t c = 0; c < 3; ++c)
        for (std::int64_t y = 0; y < s.h; ++y)
            for (std::int64_t x = 0; x < s.w; ++x) target(0, c, y, x) = 0.55f * original(0, c, y, x) + shift[c];
    return target;
}

/// The prompt's target: the original recoloured toward red.
inline host_tensor make_it_red(const host_tensor& original) { return recoloured(original, {0.45f, -0.25f, -0.25f}); }

/// The original recoloured toward `colour`, as make_it_red is toward red.
inline host_tensor recolour(const host_tensor& original, rgb colour) {
    return recoloured(original, {0.45f * (colour.r / 127.5f - 1.0f), 0.45f * (colour.g / 127.5f - 1.0f),
                                 0.45f * (colour.b / 127.5f - 1.0f)});
}

/// One analytic prompt model per condition index: a batch goes to its condition's model, as an engine picks the
/// prompt embedding of a batch from tiles[0].condition (the field never mixes conditions in a batch).
struct per_condition_models {
    std::vector<model::gaussian_model>* models;
    prediction::kind prediction_kind() const { return prediction::kind::flow_velocity; }
    void operator()(const model::batch_request& request, mutable_view out) {
        const std::int32_t k = request.tiles.empty() ? 0 : request.tiles.front().condition;
        (*models)[static_cast<std::size_t>(k)](request, out);
    }
};

/// Per-pixel strength painted from the tiles' cores (the `mask` policy's default map).
inline host_tensor strength_map_of(const tile::layout& layout) { return policy::paint_strength_map(layout); }

/// `image` padded to width x height (each at least the image's) by mirror reflection, as tiles are padded
/// (reflect_index: no repeated edge); the alpha plane too.
inline rgb_image reflect_padded(const rgb_image& image, std::int64_t width, std::int64_t height) {
    if (width == image.width && height == image.height) return image;
    rgb_image padded(width, height);
    for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x)
            padded.set(x, y, image.at(reflect_index(x, image.width), reflect_index(y, image.height)));
    if (!image.alpha.empty()) {
        padded.alpha.resize(static_cast<std::size_t>(width * height));
        for (std::int64_t y = 0; y < height; ++y)
            for (std::int64_t x = 0; x < width; ++x)
                padded.alpha[static_cast<std::size_t>(y * width + x)] = image.alpha[static_cast<std::size_t>(
                    reflect_index(y, image.height) * image.width + reflect_index(x, image.width))];
    }
    return padded;
}

/// The top-left width x height of `image` (and of its alpha plane).
inline rgb_image cropped(const rgb_image& image, std::int64_t width, std::int64_t height) {
    if (width == image.width && height == image.height) return image;
    rgb_image out(width, height);
    for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x) out.set(x, y, image.at(x, y));
    if (!image.alpha.empty()) {
        out.alpha.resize(static_cast<std::size_t>(width * height));
        for (std::int64_t y = 0; y < height; ++y)
            for (std::int64_t x = 0; x < width; ++x)
                out.alpha[static_cast<std::size_t>(y * width + x)] =
                    image.alpha[static_cast<std::size_t>(y * image.width + x)];
    }
    return out;
}

/// The canvas side for an image side: rounded up to the quadtree's alignment (the image is padded to it).
inline std::int64_t aligned_side(std::int64_t side, std::int64_t align) { return (side + align - 1) / align * align; }

/// A grey strength image (white = 1) of the input image's size, `image_width` x `image_height`, padded by reflection
/// to the canvas, `width` x `height`, as the image is.
inline host_tensor load_strength_map(const std::string& path, std::int64_t image_width, std::int64_t image_height,
                                     std::int64_t width, std::int64_t height, const std::string& flag = "--mask") {
    rgb_image mask;
    try {
        mask = load_rgb(path);
    } catch (const io_error& e) {
        throw io_error(flag + ": " + e.what());
    }
    if (mask.width != image_width || mask.height != image_height)
        throw invalid_argument(
            flag, path + " (" + std::to_string(mask.width) + "x" + std::to_string(mask.height) + ")",
            "must be " + std::to_string(image_width) + "x" + std::to_string(image_height) + ", the image's size");
    const rgb_image padded = reflect_padded(mask, width, height);
    host_tensor map(shape4{1, 1, height, width});
    for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x) map(0, 0, y, x) = padded.at(x, y).r / 255.0f;
    return map;
}

/// Regions with a strength paint it into the mask policy's per-pixel map: latent pixel (x, y) takes the region of
/// image pixel (x * scale, y * scale), reflected into the image where the canvas is padded past it.
inline void paint_region_strengths(const region_map& regions, int scale, host_tensor& map) {
    const shape4 s = map.shape();
    for (std::int64_t y = 0; y < s.h; ++y)
        for (std::int64_t x = 0; x < s.w; ++x) {
            const auto k = static_cast<std::size_t>(reflect_index(y * scale, regions.height) * regions.width +
                                                    reflect_index(x * scale, regions.width));
            const region& r = regions.regions[static_cast<std::size_t>(regions.region_of[k])];
            if (r.strength) map(0, 0, y, x) = static_cast<float>(*r.strength);
        }
}

/// The policy named in the settings, with the settings' parameters.
inline policy::any_policy configured_policy(const img2img_settings& s) {
    policy::any_policy p = policy::parse_policy(s.policy);
    if (auto* blend = std::get_if<policy::preservation_blend>(&p)) blend->kind = s.preservation;
    if (auto* sk = std::get_if<policy::skip>(&p)) {
        sk->skip_below = s.skip_below;
        sk->strength_at_most = static_cast<float>(s.skip_denoise_at_most);
    }
    std::visit(
        [&](auto& q) {
            if constexpr (policy::denoised_slot_policy<std::decay_t<decltype(q)>>) q.skip_below = s.skip_below;
        },
        p);
    return p;
}

/// One tile covering the canvas of `layout`: the untiled reference (strength 1; the mask policy reads the map).
inline tile::layout whole_canvas_tile(const tile::layout& layout) {
    tile::layout whole;
    whole.width = layout.width;
    whole.height = layout.height;
    whole.latent_scale = layout.latent_scale;
    tile::layout_tile t;
    t.core = t.padded = rect{0, 0, layout.width, layout.height};
    t.pixel_core = rect{0, 0, layout.pixel_width(), layout.pixel_height()};
    whole.tiles.push_back(t);
    return whole;
}

/// The schedule of an img2img: FLUX-dev's dynamic shift for the size `shift_from` names, computed on the 16 px
/// grid FLUX's tokens lie on, then truncated ComfyUI-style by the global denoise.
struct img2img_schedule {
    std::int64_t shift_width = 0, shift_height = 0;  ///< px, multiples of 16
    double mu = 0;
    std::vector<double> sigmas;
};

/// The schedule `settings` give a canvas of canvas_width x canvas_height latent px at `latent_scale` image px per
/// latent px. Throws invalid_argument naming --shift-from and the size when that size's shift leaves no strictly
/// decreasing schedule in double precision (a canvas of 8192 px: mu = 45, every sigma but the last rounds to 1).
/// (schedule::img2img_sigmas is another thing: a schedule truncated by an img2img strength.)
inline img2img_schedule schedule_for(const img2img_settings& settings, std::int64_t canvas_width,
                                     std::int64_t canvas_height, int latent_scale = 1) {
    std::int64_t w = canvas_width * latent_scale, h = canvas_height * latent_scale;
    if (settings.shift_from == shift_source::tile) {
        const std::int64_t tile =
            settings.model_tiles ? settings.model_tiles->max_tile * latent_scale : settings.quadtree.max_tile_size;
        if (tile > 0) {
            w = std::min(w, tile);
            h = std::min(h, tile);
        }
    }
    img2img_schedule out;
    out.shift_width = std::max<std::int64_t>(16, w / 16 * 16);
    out.shift_height = std::max<std::int64_t>(16, h / 16 * 16);
    out.mu = schedule::flux_mu(static_cast<int>(std::min<std::int64_t>(out.shift_width, 1 << 30)),
                               static_cast<int>(std::min<std::int64_t>(out.shift_height, 1 << 30)));
    out.sigmas = schedule::comfy_denoise([&](int n) { return schedule::flux_mu_schedule(n, out.mu); }, settings.steps,
                                         settings.denoise);
    try {
        schedule::validate_schedule(out.sigmas);
    } catch (const invalid_argument& e) {
        char rounded_mu[32];
        std::snprintf(rounded_mu, sizeof rounded_mu, "%.4g", out.mu);
        throw invalid_argument(
            "--shift-from",
            std::string(to_string(settings.shift_from)) + " (" + std::to_string(out.shift_width) + "x" +
                std::to_string(out.shift_height) + " px)",
            "gives mu = " + std::string(rounded_mu) + ", too large for a " + std::to_string(settings.steps) +
                "-step schedule (" + e.what() + "); " +
                (settings.shift_from == shift_source::canvas ? "use --shift-from tile, or a smaller image"
                                                             : "use a smaller --max-model-tile"));
    }
    return out;
}

/// Observer of sampling progress: (policy, step done, total).
using progress_callback = std::function<void(const std::string&, int, int)>;

template <class Field>
void run_sampler(sampler::any_sampler& method, Field& field, mutable_view x, const std::vector<double>& sigmas,
                 const std::string& name, const progress_callback& progress) {
    sampler::sample(method, field, x, sigmas, [&](const sampler::step_info& info) {
        if (progress) progress(name, info.step + 1, info.total);
        return true;
    });
}

/// Runs one img2img of `image` under `settings`; `given_layout` may be passed to reuse a quadtree.
img2img_result run_img2img(const rgb_image& image, const img2img_settings& settings,
                           const progress_callback& progress = {}, const tile::layout* given_layout = nullptr);

}  // namespace quadflow::app
