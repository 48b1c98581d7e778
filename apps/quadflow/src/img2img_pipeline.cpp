// quadflow app pipeline: run_img2img, one img2img of an image over its quadtree (img2img_pipeline.hpp says what).
#include "quadflow_app/img2img_pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "quadflow/field/any_field.hpp"

namespace quadflow::app {
namespace {

void check_settings(const img2img_settings& settings) {
    require(settings.steps > 0, "--steps", settings.steps, "must be > 0");
    require(settings.denoise > 0.0 && settings.denoise <= 1.0, "--denoise", settings.denoise, "must be in (0, 1]");
    require(settings.texture >= 0.0, "texture", settings.texture, "must be >= 0");
    require(settings.quadtree.align > 0, "--align", settings.quadtree.align, "must be > 0");
}

/// Sets result.layout, the quadtree of `canvas` (or `given_layout`), and result.model_layout, the tiles the model
/// runs on: the whole canvas (untiled), model tiles of the quadtree, or its own leaves.
void build_layouts(const rgb_image& canvas, const img2img_settings& settings, const tile::layout* given_layout,
                   img2img_result& result) {
    result.layout = given_layout ? *given_layout : tile::build_quadtree(canvas.view(), settings.quadtree);
    const tile::layout& layout = result.layout;
    require(layout.width == canvas.width && layout.height == canvas.height, "layout",
            std::to_string(layout.width) + "x" + std::to_string(layout.height) + " latent px",
            "must cover the padded image, " + std::to_string(canvas.width) + "x" + std::to_string(canvas.height) +
                " (the latent is the image itself)");
    if (settings.untiled)
        require(settings.policy == policy::mask::name, "--untiled", "with --policy " + settings.policy,
                "runs the whole canvas as one tile under the mask policy (per-pixel strength); use --policy mask");
    result.model_layout = settings.untiled ? whole_canvas_tile(layout)
                                           : field::make_img2img_layouts(layout, settings.model_tiles).model_tiles;
}

/// The mask policy's per-pixel strength on the latent canvas: a constant, a strength image or the quadtree's, then
/// the regions' strengths and the slope limit. Empty for any other policy.
host_tensor strength_map_for(const rgb_image& image, const img2img_settings& settings, const tile::layout& layout) {
    host_tensor strength_map;
    if (settings.policy != policy::mask::name) return strength_map;
    if (settings.constant_strength) {
        require(*settings.constant_strength >= 0.0 && *settings.constant_strength <= 1.0, "--strength-map",
                *settings.constant_strength, "a constant strength must be in [0, 1]");
        strength_map =
            host_tensor(shape4{1, 1, layout.height, layout.width}, static_cast<float>(*settings.constant_strength));
    } else {
        strength_map = settings.mask_path ? load_strength_map(*settings.mask_path, image.width, image.height,
                                                              layout.width, layout.height, settings.mask_flag)
                                          : strength_map_of(layout);
    }
    if (settings.regions) paint_region_strengths(*settings.regions, layout.latent_scale, strength_map);
    if (settings.mask_slope) strength_map = policy::slope_limited(strength_map.cview(), *settings.mask_slope);
    return strength_map;
}

/// One target per condition: its regions' target colour, or "make it red".
std::vector<host_tensor> condition_targets(const rgb_image& image, const img2img_settings& settings,
                                           const host_tensor& original) {
    const host_tensor target = make_it_red(original);
    std::vector<host_tensor> targets{target};
    if (!settings.regions) return targets;
    const region_map& regions = *settings.regions;
    require(regions.width == image.width && regions.height == image.height, "--regions",
            std::to_string(regions.width) + "x" + std::to_string(regions.height),
            "must be the image's size, " + std::to_string(image.width) + "x" + std::to_string(image.height));
    bool any_strength = false;
    for (const region& r : regions.regions) {
        any_strength = any_strength || r.strength.has_value();
        targets.resize(std::max(targets.size(), static_cast<std::size_t>(r.condition) + 1), target);
        if (r.target) targets[static_cast<std::size_t>(r.condition)] = recolour(original, *r.target);
    }
    require(!any_strength || settings.policy == policy::mask::name, "--region-table strength", "set",
            "paints the mask policy's per-pixel strength: use --policy mask (or drop the regions' strengths)");
    return targets;
}

/// Gives each model tile the condition of the region covering most of its core (the canvas reflects the regions
/// where it is padded past the image); returns the model tiles per condition.
std::vector<std::int64_t> assign_region_conditions(const region_map& regions, const tile::layout& layout,
                                                   tile::layout& model_layout, std::size_t conditions) {
    std::vector<std::int32_t> labels(static_cast<std::size_t>(layout.pixel_width() * layout.pixel_height()));
    for (std::int64_t y = 0; y < layout.pixel_height(); ++y)
        for (std::int64_t x = 0; x < layout.pixel_width(); ++x)
            labels[static_cast<std::size_t>(y * layout.pixel_width() + x)] = regions.labels[static_cast<std::size_t>(
                reflect_index(y, regions.height) * regions.width + reflect_index(x, regions.width))];
    tile::assign_conditions(model_layout, tile::label_image{labels, layout.pixel_width(), layout.pixel_height()});
    std::vector<std::int64_t> tiles_by_condition(conditions, 0);
    for (const tile::layout_tile& t : model_layout.tiles) ++tiles_by_condition[static_cast<std::size_t>(t.condition)];
    return tiles_by_condition;
}

/// The models a run samples with: the learned model when the settings name one, else the analytic prompt models.
struct run_models {
    std::optional<learned_model> learned;
    std::vector<model::gaussian_model> prompts;  ///< one per condition
};

/// What the tiled field is built from, besides its model.
struct field_setup {
    const tile::layout& model_layout;
    const policy::any_policy& policy;
    const field::field_options& options;
    const host_tensor& original;
    const host_tensor& strength_map;  ///< empty unless the mask policy reads it
};

/// Builds the tiled field of `setup` over the run's model and samples `x` along options.sigmas.
field::field_stats sample_field(run_models& models, const field_setup& setup, sampler::any_sampler& method,
                                host_tensor& x, const std::string& name, const progress_callback& progress) {
    field::field_stats stats;
    const auto run_with = [&](auto& model) {
        field::any_field f(model, setup.model_layout, x.shape(), setup.policy, setup.options, setup.original.cview(),
                           setup.strength_map.numel() > 0 ? setup.strength_map.cview() : const_view{});
        run_sampler(method, f, x.view(), setup.options.sigmas, name, progress);
        stats = f.stats();
    };
    if (models.learned) {
        run_with(*models.learned);
    } else {
        per_condition_models prompt_model{&models.prompts};
        run_with(prompt_model);
    }
    return stats;
}

/// The run's name in its report: the policy, with preservation_blend's preservation.
std::string run_name(const policy::any_policy& chosen, const img2img_settings& settings) {
    return std::string(policy::name_of(chosen)) +
           (settings.policy == policy::preservation_blend::name
                ? std::string(" (") + std::string(policy::to_string(settings.preservation)) + ")"
                : std::string());
}

/// A sampled canvas and what sampling it took.
struct field_run {
    host_tensor x;
    std::string name;
    field::field_stats stats;
    double seconds = 0;
};

/// Samples the canvas from the noised original with the settings' model, policy and sampler.
field_run run_field(const img2img_settings& settings, const tile::layout& model_layout, const host_tensor& original,
                    const host_tensor& strength_map, const std::vector<host_tensor>& targets,
                    const std::vector<double>& sigmas, const progress_callback& progress) {
    run_models models;
    for (const host_tensor& t : targets) models.prompts.emplace_back(t.cview(), settings.texture);
    if (settings.model_path) models.learned.emplace(*settings.model_path, "--model", settings.model_threads);
    field::field_options options;
    options.weights = blend::weight_params{settings.weights, 0.01f};
    options.tile_batch_size = settings.tile_batch;
    options.threads = settings.threads;
    options.sigmas = sigmas;
    options.strength_rule = settings.strength_rule;
    options.exchange = settings.exchange;

    const host_tensor noise = noise::torch_randn(settings.seed, original.shape());
    field_run run{host_tensor(original.shape()), {}, {}, 0};
    sampler::noised_original(original.cview(), noise.cview(), sigmas.front(), run.x.view());
    const policy::any_policy chosen = configured_policy(settings);
    sampler::any_sampler method = sampler::parse_sampler(settings.sampler, "--sampler");
    run.name = run_name(chosen, settings);
    const auto started = std::chrono::steady_clock::now();
    run.stats = sample_field(models, {model_layout, chosen, options, original, strength_map}, method, run.x, run.name,
                             progress);
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return run;
}

/// A distributed run's counters: every rank's own, summed into `stats`, with the tile-pixels of each rank and the
/// bytes exchanged in `r`.
void gather_rank_counters(field::batch_exchange& exchange, field::field_stats& stats, img2img_report& r) {
    const int ranks = exchange.size();
    const std::int64_t mine[3] = {stats.model_calls, stats.tile_pixels, stats.bytes_received};
    std::vector<std::int64_t> all(3 * static_cast<std::size_t>(ranks));
    exchange.all_gather(std::as_bytes(std::span<const std::int64_t>(mine)),
                        std::as_writable_bytes(std::span<std::int64_t>(all)));
    r.ranks = ranks;
    r.rank_tile_pixels.assign(static_cast<std::size_t>(ranks), 0);
    stats.model_calls = stats.tile_pixels = 0;
    for (int k = 0; k < ranks; ++k) {
        const auto at = 3 * static_cast<std::size_t>(k);
        stats.model_calls += all[at];
        stats.tile_pixels += all[at + 1];
        r.bytes_exchanged += all[at + 2];
        r.rank_tile_pixels[static_cast<std::size_t>(k)] = all[at + 1];
    }
}

/// Fills `r` (its tiles_by_condition already set) from the sampled run: the errors and changes on the quadtree's
/// low- and high-strength tiles, the seam score and the work on the model's tiles, and the schedule.
void fill_report(img2img_report& r, const img2img_settings& settings, const img2img_schedule& schedule,
                 const img2img_result& result, const host_tensor& original, field_run& run) {
    const tile::layout &layout = result.layout, &model_layout = result.model_layout;
    r.policy = run.name;
    const metrics::region_error low = metrics::tile_region_error(
        run.x.cview(), original.cview(), layout, [](const tile::layout_tile& t) { return t.strength < 0.5; });
    const metrics::region_error high = metrics::tile_region_error(
        run.x.cview(), original.cview(), layout, [](const tile::layout_tile& t) { return t.strength >= 0.5; });
    r.low_strength_error = 127.5 * low.mean;
    r.high_strength_change = 127.5 * high.mean;
    r.low_strength_elements = low.elements;
    r.high_strength_elements = high.elements;
    r.seam_score = metrics::seam_score(run.x.cview(), model_layout);
    r.rank_tile_pixels = {run.stats.tile_pixels};
    if (settings.exchange) gather_rank_counters(*settings.exchange, run.stats, r);
    r.model_calls = run.stats.model_calls;
    r.tile_pixels = run.stats.tile_pixels;
    r.tiles = static_cast<std::int64_t>(model_layout.tiles.size());
    r.fine_tiles = static_cast<std::int64_t>(layout.tiles.size());
    r.smallest_tile_side = std::numeric_limits<std::int64_t>::max();
    for (const tile::layout_tile& t : model_layout.tiles)
        r.smallest_tile_side = std::min({r.smallest_tile_side, t.pixel_core.w, t.pixel_core.h});
    r.seconds = run.seconds;
    r.model_threads = settings.model_threads;
    r.shift_from = settings.shift_from;
    r.shift_width = schedule.shift_width;
    r.shift_height = schedule.shift_height;
    r.mu = schedule.mu;
    r.sigmas = schedule.sigmas;
}

}  // namespace

img2img_result run_img2img(const rgb_image& image, const img2img_settings& settings, const progress_callback& progress,
                           const tile::layout* given_layout) {
    check_settings(settings);
    // The latent is the image itself: a quadtree built here is at latent scale 1; a given layout may be at another
    // scale (built on a larger image whose latent `image` is), with `image`'s size in latent px.
    if (!given_layout)
        require(settings.quadtree.latent_scale == 1, "--latent-scale", settings.quadtree.latent_scale,
                "must be 1 for img2img, which samples in pixel space (the latent is the image itself); the quadtree "
                "and grid commands take other scales");
    const int latent_scale = given_layout ? given_layout->latent_scale : 1;
    // The canvas: the image padded by reflection to the quadtree's alignment; the output is cropped back to the
    // image's size. FLUX's shift is computed in image px.
    const std::int64_t canvas_width = aligned_side(image.width, settings.quadtree.align),
                       canvas_height = aligned_side(image.height, settings.quadtree.align);
    const img2img_schedule schedule = schedule_for(settings, canvas_width, canvas_height, latent_scale);
    const rgb_image canvas = reflect_padded(image, canvas_width, canvas_height);
    img2img_result result;
    build_layouts(canvas, settings, given_layout, result);
    const host_tensor original = to_latent(canvas, result.layout.width, result.layout.height);
    const host_tensor strength_map = strength_map_for(image, settings, result.layout);
    const std::vector<host_tensor> targets = condition_targets(image, settings, original);
    if (settings.regions)
        result.report.tiles_by_condition =
            assign_region_conditions(*settings.regions, result.layout, result.model_layout, targets.size());
    field_run run =
        run_field(settings, result.model_layout, original, strength_map, targets, schedule.sigmas, progress);
    fill_report(result.report, settings, schedule, result, original, run);
    result.output = cropped(to_image(run.x.cview()), image.width, image.height);
    result.output.alpha = image.alpha;  // the model sees RGB; the alpha channel comes back as it went in
    return result;
}

}  // namespace quadflow::app
