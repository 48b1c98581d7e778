// quadflow CLI: the `img2img` and `upscale` subcommands (pixel-space img2img over a quadtree, one velocity policy).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include "cli/flag_checks.hpp"
#include "cli/img2img_common.hpp"
#include "cli/json.hpp"
#include "cli/shared_flags.hpp"
#include "quadflow_app/cli.hpp"
#include "quadflow_app/distributed.hpp"
#include "quadflow_app/file_io.hpp"
#include "quadflow_app/image_io.hpp"
#include "quadflow_app/img2img_pipeline.hpp"

namespace quadflow::cli {

json report_json(const app::img2img_report& r) {
    return {{"policy", r.policy},
            {"low_strength_error", r.low_strength_elements > 0 ? json(r.low_strength_error) : json(nullptr)},
            {"high_strength_change", r.high_strength_elements > 0 ? json(r.high_strength_change) : json(nullptr)},
            {"seam_score", r.seam_score},
            {"model_calls", r.model_calls},
            {"tile_pixels", r.tile_pixels},
            {"tiles", r.tiles},
            {"fine_tiles", r.fine_tiles},
            {"smallest_tile_side", r.smallest_tile_side},
            {"seconds", r.seconds},
            {"ranks", r.ranks},
            {"rank_tile_pixels", r.rank_tile_pixels},
            {"bytes_exchanged", r.bytes_exchanged},
            {"tiles_by_condition", r.tiles_by_condition},
            {"model_threads", r.model_threads},
            {"shift_from", app::to_string(r.shift_from)},
            {"shift_size", {r.shift_width, r.shift_height}},
            {"mu", r.mu},
            {"sigmas", r.sigmas}};
}

/// A progress bar on stderr, redrawn in place on a terminal; otherwise one line when a run finishes.
void show_progress(const std::string& name, int done, int total) {
    static const bool terminal = isatty(fileno(stderr));
    if (!terminal) {
        if (done == total) std::fprintf(stderr, "%s: %d/%d steps\n", name.c_str(), done, total);
        return;
    }
    const int width = 30, filled = total > 0 ? done * width / total : width;
    std::fprintf(stderr, "\r%-28s [%s%s] %d/%d", name.c_str(),
                 std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), '.').c_str(), done, total);
    if (done == total) std::fprintf(stderr, "\n");
}

namespace {

using app::img2img_settings;
using app::rgb_image;

struct img2img_options {
    std::string image, out, policy = "strength", preservation = "naive", sampler = shared_defaults::sampler;
    std::string strength_rule = "diffusers", weights = "smootherstep", leaf_strength_rule = "area";
    std::optional<std::string> mask, stats, model_path, strength_map, regions, region_table;
    std::optional<double> mask_slope;
    std::string distributed = "none", shift_from = "tile";
    bool untiled = false;
    int steps = shared_defaults::steps, tile_batch = 4, latent_scale = 1;
    double denoise = 1.0, min_strength = shared_defaults::min_strength, max_strength = shared_defaults::max_strength;
    double threshold = 25, skip_denoise = 0.35;
    std::int64_t overlap = 8, skip_below = 0, min_tile = 4, align = 8;
    std::uint64_t seed = shared_defaults::seed;
    /// The model runs on tile::build_model_tiles of the quadtree (the default); --leaf-tiles: on its own leaves.
    bool model_tiles = true;
    tile::model_tile_options model;
    /// upscale: resize by this factor (with `filter`) before the img2img; unset for img2img itself.
    std::optional<double> scale;
    std::string filter = "catmull_rom";
};
img2img_settings settings_of(const img2img_options& o) {
    img2img_settings s;
    s.policy = o.policy;
    s.preservation = policy::parse_preservation(o.preservation);
    s.sampler = o.sampler;
    s.steps = o.steps;
    s.denoise = o.denoise;
    s.strength_rule = schedule::parse_strength_rule(o.strength_rule);
    s.quadtree.content_threshold = o.threshold;
    s.quadtree.min_strength = o.min_strength;
    s.quadtree.max_strength = o.max_strength;
    s.quadtree.overlap_pixels = o.overlap;
    s.quadtree.latent_scale = o.latent_scale;
    s.quadtree.min_tile_size = o.min_tile;
    s.quadtree.align = o.align;
    s.quadtree.rule = tile::parse_leaf_strength_rule(o.leaf_strength_rule);
    s.weights = blend::parse_weight_kind(o.weights);
    s.tile_batch = o.tile_batch;
    s.skip_below = o.skip_below;
    s.skip_denoise_at_most = o.skip_denoise;
    s.mask_path = o.mask;
    s.mask_slope = o.mask_slope;
    if (o.strength_map && *o.strength_map != "quadtree") {
        char* end = nullptr;
        const double constant = std::strtod(o.strength_map->c_str(), &end);
        if (!o.strength_map->empty() && end == o.strength_map->c_str() + o.strength_map->size()) {
            s.constant_strength = constant;
        } else {
            s.mask_path = *o.strength_map;
            s.mask_flag = "--strength-map";
        }
    }
    s.model_path = o.model_path;
    s.untiled = o.untiled;
    s.shift_from = o.shift_from == "canvas" ? app::shift_source::canvas : app::shift_source::tile;
    s.seed = o.seed;
    s.model_tiles.reset();
    if (o.model_tiles) {
        s.model_tiles = o.model;
        // --overlap in latent px, as the quadtree takes it; a bad --latent-scale is reported by the quadtree.
        s.model_tiles->overlap_latent = o.latent_scale > 0 ? o.overlap / o.latent_scale : o.overlap;
    }
    return s;
}
/// Fails before any work when `path` cannot be written (a missing or read-only folder), so that a long run is
/// not lost at its end.
void check_writable(const std::string& flag, const std::string& path) {
    std::error_code ignored;
    const bool existed = std::filesystem::exists(path, ignored);
    errno = 0;
    std::FILE* file = std::fopen(path.c_str(), "ab");
    if (!file) throw io_error(flag + ": " + app::cannot_write(path, app::last_system_error()).what());
    std::fclose(file);
    if (!existed) std::filesystem::remove(path, ignored);
}

/// `image` resized by `scale` (upscale's --scale, --filter), its alpha plane with it.
rgb_image upscaled(const rgb_image& image, double scale, const std::string& filter) {
    constexpr double max_side = 65536;
    require(std::isfinite(scale) && scale > 0.0, "--scale", scale, "must be > 0");
    const double w = std::round(static_cast<double>(image.width) * scale),
                 h = std::round(static_cast<double>(image.height) * scale);
    constexpr double max_pixels = 1 << 28;  // load_rgb's limit for an input image
    require(w >= 1 && h >= 1 && w <= max_side && h <= max_side && w * h <= max_pixels, "--scale", scale,
            "makes the " + std::to_string(image.width) + "x" + std::to_string(image.height) + " image " +
                std::to_string(static_cast<long long>(w)) + "x" + std::to_string(static_cast<long long>(h)) +
                "; each side must be in [1, 65536], and at most 268435456 pixels in all");
    const app::resize_filter f = filter == "box" ? app::resize_filter::box : app::resize_filter::catmull_rom;
    rgb_image out = app::resize(image, static_cast<std::int64_t>(w), static_cast<std::int64_t>(h), f);
    if (!image.alpha.empty()) {
        rgb_image alpha(image.width, image.height);
        for (std::size_t i = 0; i < image.alpha.size(); ++i) alpha.pixels[i * 3] = image.alpha[i];
        const rgb_image resized = app::resize(alpha, out.width, out.height, f);
        out.alpha.resize(static_cast<std::size_t>(out.width * out.height));
        for (std::size_t i = 0; i < out.alpha.size(); ++i) out.alpha[i] = resized.pixels[i * 3];
    }
    return out;
}

/// FNV-1a, 64 bits, continued from `hash`.
std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = 0xcbf29ce484222325ULL) {
    for (const char ch : bytes) hash = (hash ^ static_cast<unsigned char>(ch)) * 0x100000001b3ULL;
    return hash;
}

/// A file's bytes' digest, 0 for a file that cannot be read (each rank reads its own copy).
std::uint64_t file_digest(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return in ? fnv1a(bytes.str()) : 0;
}

/// What a distributed run's ranks must agree on, with a name for each: every flag that was given (its value as
/// parsed), the input image's pixels, and the bytes of each file the run reads.
std::vector<std::pair<std::string, std::uint64_t>> run_inputs(const img2img_options& o, const CLI::App& cmd,
                                                              const rgb_image& image) {
    std::vector<std::pair<std::string, std::uint64_t>> inputs;
    for (const CLI::Option* option : cmd.get_options()) {
        if (option->get_lnames().empty()) continue;
        const std::string flag = "--" + option->get_lnames().front();
        if (flag == "--out" || flag == "--stats" || flag == "--help") continue;  // each rank's own outputs
        std::string value = std::to_string(option->count());
        for (const std::string& result : option->results()) value += "\x1f" + result;
        inputs.emplace_back(flag, fnv1a(value));
    }
    std::string pixels(reinterpret_cast<const char*>(image.pixels.data()), image.pixels.size());
    inputs.emplace_back("--image",
                        fnv1a(pixels, fnv1a(std::to_string(image.width) + "x" + std::to_string(image.height))));
    const std::pair<const char*, const std::optional<std::string>*> files[] = {{"--model", &o.model_path},
                                                                               {"--mask", &o.mask},
                                                                               {"--regions", &o.regions},
                                                                               {"--region-table", &o.region_table}};
    for (const auto& [flag, path] : files)
        if (*path) inputs.emplace_back(std::string(flag) + " file", file_digest(**path));
    if (o.strength_map) inputs.emplace_back("--strength-map file", file_digest(*o.strength_map));
    return inputs;
}

/// Flags only some policies read: setting one for another policy is an error.
void check_policy_flags(const img2img_options& o, const CLI::App& cmd) {
    const std::vector<std::pair<std::string, std::vector<std::string>>> readers_of_flag = {
        {"--preservation", {"preservation_blend"}},
        {"--strength-rule", {"strength"}},
        {"--skip-below", {"skip", "seed_scale", "seed_floor", "seed_ramp"}},
        {"--skip-denoise", {"skip"}},
        {"--mask", {"mask"}},
        {"--mask-slope", {"mask"}},
        {"--strength-map", {"mask"}},
        {"--untiled", {"mask"}}};
    for (const auto& [flag, readers] : readers_of_flag) {
        if (cmd.count(flag) == 0 || std::find(readers.begin(), readers.end(), o.policy) != readers.end()) continue;
        std::string listed;
        for (const std::string& r : readers) listed += (listed.empty() ? "" : "|") + r;
        throw invalid_argument(flag, cmd.get_option(flag)->as<std::string>(),
                               "only --policy " + listed + " reads it, not --policy " + o.policy);
    }
}

/// Checks the model tile options first, naming their flags.
void validate_model_tiles(const img2img_settings& s) {
    if (!s.model_tiles) return;
    try {
        tile::validate(*s.model_tiles);
    } catch (const invalid_argument& e) {
        const std::map<std::string, std::string> flags{
            {"min_tile", "--min-model-tile"}, {"max_tile", "--max-model-tile"}, {"align", "--align-model"}};
        const auto flag = flags.find(e.parameter());
        if (flag == flags.end()) throw;
        const std::string message = e.what(), prefix = e.parameter() + " = " + e.value() + ": ";
        throw invalid_argument(flag->second, e.value(),
                               message.starts_with(prefix) ? message.substr(prefix.size()) : message);
    }
}

void run_img2img_command(img2img_options& o, const CLI::App& cmd, std::ostream& out) {
    o.model_tiles = cmd.count("--leaf-tiles") == 0;
    if (o.model_tiles && cmd.count("--policy") == 0) o.policy = "mask";
    check_policy_flags(o, cmd);
    if (o.mask && o.strength_map)
        throw invalid_argument("--strength-map", *o.strength_map, "give either --mask or --strength-map, not both");
    require_image_extension("--out", o.out);
    const img2img_settings settings = settings_of(o);
    if (settings.model_tiles && o.latent_scale > 0) {
        const std::int64_t most = settings.model_tiles->max_tile / 2 * o.latent_scale;
        require(o.overlap <= most, "--overlap", o.overlap,
                "must be at most " + std::to_string(most) + " px, half of --max-model-tile (" +
                    std::to_string(settings.model_tiles->max_tile) +
                    " latent px): a model tile's overlap is at most half its side");
    }
    with_flag_names(quadtree_flag_names(), [&] { tile::validate(settings.quadtree); });
    validate_model_tiles(settings);
    img2img_settings run_settings = settings;
    bool writer = true;  // rank 0 of a distributed run, or the only process
    const auto check_outputs = [&] {
        check_writable("--out", o.out);
        if (o.stats) check_writable("--stats", *o.stats);
    };
    if (o.distributed == "mpi") {
        app::mpi_world& world = app::mpi_world::get();
        run_settings.exchange = world.exchange();
        run_settings.model_threads = world.cores_per_rank();  // ranks on one machine split its cores
        writer = world.rank() == 0;
        world.on_rank_0(check_outputs);
    } else {
        check_outputs();
    }
    rgb_image image = with_flag_name("--image", [&] { return app::load_rgb(o.image); });
    if (o.scale) image = upscaled(image, *o.scale, o.filter);
    if (o.regions) run_settings.regions = app::load_regions(*o.regions, *o.region_table);
    if (o.distributed == "mpi") app::mpi_world::get().require_same_inputs(run_inputs(o, cmd, image));
    const auto result = app::run_img2img(image, run_settings, writer ? app::progress_callback(show_progress) : nullptr);
    if (!writer) return;
    app::save_image(o.out, result.output);
    const std::string report = to_text(report_json(result.report));
    if (o.stats) with_flag_name("--stats", [&] { app::write_file(*o.stats, report + "\n"); });
    out << report << "\n";
}
/// img2img's input, output and sampling flags.
void add_sampling_flags(CLI::App& cmd, img2img_options& o) {
    cmd.add_option("--image", o.image, "Input image (PNG/JPEG)")->required();
    cmd.add_option("--out", o.out, "Output image: .png (PNG), .jpg or .jpeg (JPEG)")->required();
    cmd.add_option("--policy", o.policy, "Velocity policy (mask on model tiles; strength with --leaf-tiles)")
        ->transform(CLI::Transformer({{"floor_070", "floor"}}))  // floor's former name
        ->check(one_of(alternative_names<policy::any_policy>()));
    cmd.add_option("--preservation", o.preservation, joined_names<policy::preservation>() + " (preservation_blend)")
        ->check(one_of(names<policy::preservation>()));
    add_sampler_option(cmd, o.sampler);
    add_bounded_option(cmd, "--steps", o.steps, 1, max_cli_steps, "Sampling steps");
    cmd.add_option("--denoise", o.denoise, "Global denoise in (0, 1]");
    cmd.add_option("--strength-rule", o.strength_rule, joined_names<schedule::strength_rule>())
        ->check(one_of(names<schedule::strength_rule>()));
}

/// img2img's quadtree (the strengths) and tiling flags.
void add_tiling_flags(CLI::App& cmd, img2img_options& o) {
    add_strength_range_options(cmd, o.min_strength, o.max_strength,
                               "Smallest tile strength (default as in demo: 0 keeps flat tiles)",
                               "Largest tile strength");
    cmd.add_option("--leaf-rule,--denoise-rule", o.leaf_strength_rule, joined_names<tile::leaf_strength_rule>())
        ->check(one_of(names<tile::leaf_strength_rule>()));
    cmd.add_option("--threshold", o.threshold, "Quadtree content threshold (0..255)");
    cmd.add_option("--min-tile", o.min_tile, "Quadtree minimum tile size in pixels");
    cmd.add_option("--align", o.align, "Quadtree split alignment in pixels");
    add_bounded_option(cmd, "--overlap", o.overlap, std::int64_t{0}, std::int64_t{4096},
                       "Tile overlap in pixels; with model tiles at most half of --max-model-tile");
    cmd.add_option(
        "--latent-scale", o.latent_scale,
        "Image pixels per latent pixel: 1, as img2img samples in pixel space (the latent is the image itself)");
    cmd.add_option("--weights", o.weights, joined_names<blend::weight_kind>())
        ->check(one_of(names<blend::weight_kind>()));
    add_bounded_option(cmd, "--tile-batch", o.tile_batch, 1, 4096, "Tiles per model call");
}

/// The flags only some policies read (check_policy_flags), the model, the schedule's shift, the distribution, the seed.
void add_policy_and_model_flags(CLI::App& cmd, img2img_options& o) {
    cmd.add_option("--skip-below", o.skip_below,
                   "skip, seed_*: tiles whose smaller side is below this many pixels (the seed's "
                   "skip_diffusion_below)");
    cmd.add_option("--skip-strength,--skip-denoise", o.skip_denoise, "skip: tiles with strength at most this");
    cmd.add_option("--mask", o.mask, "mask: grayscale PNG of per-pixel strength (white = 1)");
    cmd.add_option("--mask-slope", o.mask_slope,
                   "mask: limit the strength map's change to this much per latent pixel (ramps at tile borders)");
    cmd.add_option("--strength-map", o.strength_map,
                   "mask: what paints the per-pixel strength: quadtree (default), a constant in [0, 1], or a "
                   "grayscale PNG");
    cmd.add_option("--model", o.model_path,
                   "A TorchScript flow model (models/flow_unet.pt) run through LibTorch instead of the analytic "
                   "'make it red' model");
    cmd.add_flag("--untiled", o.untiled,
                 "Run the whole canvas as one tile (policy mask, same per-pixel strength): the untiled reference");
    cmd.add_option("--shift-from", o.shift_from,
                   "FLUX's dynamic shift from the model tile's size (tile: --max-model-tile, or the whole canvas with "
                   "--leaf-tiles; at most the canvas) or from the canvas's (canvas: as an untiled engine does; large "
                   "images collapse the schedule)")
        ->check(CLI::IsMember({"tile", "canvas"}));
    cmd.add_option("--distributed", o.distributed,
                   "none, or mpi: under mpirun, split the model batches across the ranks (the output is the "
                   "single-process output, bit for bit); rank 0 alone writes files and JSON")
        ->check(CLI::IsMember({"none", "mpi"}));
    add_seed_option(cmd, o.seed, "Noise seed (torch.manual_seed), 0 to 2^64 - 1");
}

/// The regions, the report file and the choice of the tiles the model runs on.
void add_region_and_model_tile_flags(CLI::App& cmd, img2img_options& o) {
    CLI::Option* regions =
        cmd.add_option("--regions", o.regions,
                       "A palette PNG of the image's size: each model tile takes the condition of the region covering "
                       "most of its core (docs/conditioning.md)");
    CLI::Option* table = cmd.add_option("--region-table", o.region_table,
                                        "JSON: each --regions colour's condition, and optionally its target colour "
                                        "(analytic model) and strength (mask policy)");
    regions->needs(table);
    table->needs(regions);
    cmd.add_option("--stats", o.stats, "Write the report JSON here");
    CLI::Option* seed_flag = cmd.add_flag("--leaf-tiles")
                                 ->description(
                                     "Run the model on the quadtree's own leaves, as the seed system does "
                                     "(down to --min-tile px), instead of model-sized tiles");
    cmd.add_flag("--model-tiles")
        ->description(
            "Run the model on model-sized tiles built from the quadtree, which stays the strength map "
            "(the default; policy mask unless --policy is given)")
        ->excludes(seed_flag);
    cmd.add_option("--min-model-tile", o.model.min_tile, "Smallest model tile side, latent px")->excludes(seed_flag);
    cmd.add_option("--max-model-tile", o.model.max_tile, "Largest model tile side, latent px")->excludes(seed_flag);
    cmd.add_option("--align-model", o.model.align, "Model tile origin alignment, latent px")->excludes(seed_flag);
}

/// img2img's flags on `cmd` (img2img and upscale), writing into `o`.
void add_img2img_flags(CLI::App& cmd, img2img_options& o) {
    add_sampling_flags(cmd, o);
    add_tiling_flags(cmd, o);
    add_policy_and_model_flags(cmd, o);
    add_region_and_model_tile_flags(cmd, o);
}

}  // namespace

void add_img2img_commands(CLI::App& app, std::ostream& out) {
    auto o = std::make_shared<img2img_options>();
    CLI::App* cmd = app.add_subcommand("img2img", "Pixel-space img2img over a quadtree with one velocity policy");
    add_img2img_flags(*cmd, *o);
    cmd->callback([o, cmd, &out] { run_img2img_command(*o, *cmd, out); });

    // upscale: resize, then img2img with the settings bench/learned measured best for upscaling (model tiles with 8 px
    // of overlap and smootherstep ramps, the quadtree's strengths up to 0.2, the lowest and closest to the original).
    auto u = std::make_shared<img2img_options>();
    u->scale = 2.0;
    u->max_strength = 0.2;
    CLI::App* up = app.add_subcommand(
        "upscale",
        "Upscale: resize by --scale (Catmull-Rom bicubic), then tiled img2img (model tiles, the quadtree's strengths "
        "0..0.2, mask policy)");
    add_img2img_flags(*up, *u);
    up->get_option("--max-strength")->default_str("0.2");
    up->add_option("--scale", *u->scale, "Resize factor, > 0: the output is round(w * scale) x round(h * scale)");
    up->add_option("--filter", u->filter, "Resize filter: catmull_rom (bicubic, PIL's BICUBIC) or box (area average)")
        ->check(CLI::IsMember({"catmull_rom", "box"}));
    up->callback([u, up, &out] { run_img2img_command(*u, *up, out); });
}

}  // namespace quadflow::cli
