// quadflow CLI: the `img2img` and `demo` subcommands (pixel-space img2img over a quadtree, per policy).
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
#include "cli/json.hpp"
#include "quadflow_app/cli.hpp"
#include "quadflow_app/distributed.hpp"
#include "quadflow_app/file_io.hpp"
#include "quadflow_app/image_io.hpp"
#include "quadflow_app/img2img_pipeline.hpp"
#include "quadflow_app/overlay.hpp"
#include "quadflow_app/regions.hpp"

#ifndef QUADFLOW_DEMO_MODEL
#define QUADFLOW_DEMO_MODEL "models/flow_unet.pt"
#endif
#ifndef QUADFLOW_DEMO_IMAGE
#define QUADFLOW_DEMO_IMAGE "apps/quadflow/data/astronaut.png"
#endif
#ifndef QUADFLOW_DEMO_REGIONS
#define QUADFLOW_DEMO_REGIONS "apps/quadflow/data/astronaut_regions.png"
#define QUADFLOW_DEMO_REGION_TABLE "apps/quadflow/data/astronaut_regions.json"
#endif

namespace quadflow::cli {
namespace {

using app::img2img_report;
using app::img2img_settings;
using app::rgb_image;

/// Defaults shared by `img2img` and `demo`: the seed system's settings (min_strength = 0 leaves the largest,
/// flattest tiles unchanged, as its user report asks).
struct shared_defaults {
    static constexpr const char* sampler = "euler";
    static constexpr int steps = 20;
    static constexpr std::uint64_t seed = 42;
    static constexpr double min_strength = 0.0, max_strength = 0.8;
};

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

struct demo_options {
    std::string image = QUADFLOW_DEMO_IMAGE, out_dir = "out/demo", sampler = shared_defaults::sampler;
    int steps = shared_defaults::steps;
    std::uint64_t seed = shared_defaults::seed;
    double texture = img2img_settings{}.texture;
    double min_strength = shared_defaults::min_strength, max_strength = shared_defaults::max_strength;
    std::string model = QUADFLOW_DEMO_MODEL;  ///< the learned model's runs, when LibTorch is built in
    int learned_steps = 8;
    std::string regions = QUADFLOW_DEMO_REGIONS, region_table = QUADFLOW_DEMO_REGION_TABLE;  ///< the regional run
    bool regions_given = false;  ///< --regions on the command line: a size mismatch is an error, not a skip
    std::string distributed = "none";
    std::shared_ptr<field::batch_exchange> exchange;  ///< set from --distributed mpi
    bool writer = true;                               ///< rank 0 of a distributed run, or the only process
    int model_threads = 2;  ///< the learned runs' LibTorch threads; with --distributed mpi, this machine's share
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
    s.quadtree.overlap = o.overlap;
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
        s.model_tiles->overlap = o.latent_scale > 0 ? o.overlap / o.latent_scale : o.overlap;
    }
    return s;
}

json report_json(const img2img_report& r) {
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

/// Halves an image with a 2x2 box filter.
rgb_image half_size(const rgb_image& image) {
    rgb_image small(image.width / 2, image.height / 2);
    for (std::int64_t y = 0; y < small.height; ++y)
        for (std::int64_t x = 0; x < small.width; ++x) {
            int r = 0, g = 0, b = 0;
            for (int dy = 0; dy < 2; ++dy)
                for (int dx = 0; dx < 2; ++dx) {
                    const auto p = image.at(2 * x + dx, 2 * y + dy);
                    r += p.r, g += p.g, b += p.b;
                }
            small.set(x, y, {std::uint8_t(r / 4), std::uint8_t(g / 4), std::uint8_t(b / 4)});
        }
    return small;
}

std::string fixed(double v, int digits) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
    return buffer;
}

/// The demo's output: files and lines only where this process writes (rank 0 of a distributed run).
void save_demo_png(const demo_options& o, const std::string& file, const rgb_image& image) {
    if (o.writer) app::save_png(o.out_dir + "/" + file, image);
}

/// The demo's progress lines, each named by its run ("demo learned: model tiles, overlap 0: 8/8 steps").
app::progress_callback demo_progress(const demo_options& o, const std::string& run) {
    if (!o.writer) return nullptr;
    return [label = "demo " + run](const std::string&, int done, int total) { show_progress(label, done, total); };
}

/// "condition k (name) -> target at strength", one per region, for the demo's panels.
std::string region_line(const app::region& r) {
    std::string line = r.name + ": condition " + std::to_string(r.condition);
    if (r.target) line += " -> " + app::to_hex(*r.target);
    if (r.strength) line += " at " + fixed(*r.strength, 1);
    return line;
}

/// The regions' strengths, "suit 0.8, background 0.3", for the learned regional panel.
std::string region_strengths(const app::region_map& regions) {
    std::string text;
    for (const app::region& r : regions.regions)
        if (r.strength) text += (text.empty() ? "" : ", ") + r.name + " " + fixed(*r.strength, 1);
    return text;
}

/// The image with each region tinted by its palette colour (the demo's picture of --regions).
rgb_image region_overlay(const rgb_image& image, const app::region_map& regions) {
    rgb_image out(image.width, image.height);
    for (std::int64_t y = 0; y < image.height; ++y)
        for (std::int64_t x = 0; x < image.width; ++x) {
            const app::region& r = regions.regions[static_cast<std::size_t>(
                regions.region_of[static_cast<std::size_t>(y * image.width + x)])];
            const app::rgb tint = r.target.value_or(r.colour), p = image.at(x, y);
            out.set(
                x, y,
                {std::uint8_t((p.r + tint.r) / 2), std::uint8_t((p.g + tint.g) / 2), std::uint8_t((p.b + tint.b) / 2)});
        }
    return out;
}

/// The demo's learned-model part: the photo's quadtree strengths under `mask` with the learned flow model, untiled
/// and on model tiles with and without overlap; writes learned_*.png and learned_contact_sheet.png, prints a table.
/// Returns whether it ran (LibTorch built in and the model file there).
bool run_learned_demo(const demo_options& o, const rgb_image& image, const tile::layout& layout,
                      const std::optional<app::region_map>& regions, std::ostream& out) {
    if (!app::learned_model::available()) {
        out << "learned model: not built in (LibTorch not found: apt-get install libtorch-dev, then rebuild)\n";
        return false;
    }
    if (!std::filesystem::is_regular_file(o.model)) {
        out << "learned model: " << o.model << " not found (--model)\n";
        return false;
    }
    struct learned_run {
        std::string title, file;
        bool untiled;
        std::int64_t overlap;
        bool regional = false;  ///< the regions' strengths in the mask (the learned model has no conditions)
    };
    std::vector<learned_run> runs = {{"untiled (reference)", "learned_untiled", true, 0},
                                     {"model tiles, overlap 0", "learned_overlap0", false, 0},
                                     {"model tiles, overlap 8 (default)", "learned_default", false, 8}};
    if (regions) runs.push_back({"regions' strengths, overlap 8", "learned_regions", false, 8, true});
    img2img_settings base;  // mask on model tiles, the quadtree as the per-pixel strength
    base.steps = o.learned_steps;
    base.seed = o.seed;
    base.quadtree.min_strength = o.min_strength;
    base.quadtree.max_strength = o.max_strength;
    base.model_path = o.model;
    base.model_threads = o.model_threads;
    base.exchange = o.exchange;
    std::vector<std::pair<rgb_image, std::vector<std::string>>> panels;
    panels.push_back({image,
                      {"original", "learned flow model (models/flow_unet.pt)",
                       std::to_string(o.learned_steps) + " euler steps, mask policy"}});
    std::vector<app::img2img_result> results;
    for (const learned_run& r : runs) {
        img2img_settings s = base;
        s.untiled = r.untiled;
        s.model_tiles->overlap = r.overlap;
        if (r.regional) s.regions = *regions;
        results.push_back(app::run_img2img(image, s, demo_progress(o, "learned: " + r.title), &layout));
        save_demo_png(o, r.file + ".png", results.back().output);
    }
    char line[256];
    std::snprintf(line, sizeof line, "%-34s %12s %10s %12s %10s %8s\n", "learned model", "low-d error", "PSNR (dB)",
                  "tile-pixels", "seam", "time s");
    out << line;
    const rgb_image& reference = results.front().output;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const img2img_report& r = results[i].report;
        const double mse = app::mean_squared_difference(results[i].output, reference);
        const std::string psnr =
            i == 0 || runs[i].regional ? "-" : fixed(10.0 * std::log10(255.0 * 255.0 / std::max(mse, 1e-12)), 2);
        std::snprintf(line, sizeof line, "%-34s %12.2f %10s %12lld %10.3f %8.2f\n", runs[i].title.c_str(),
                      r.low_strength_error, psnr.c_str(), static_cast<long long>(r.tile_pixels), r.seam_score,
                      r.seconds);
        out << line;
        panels.push_back({results[i].output,
                          {runs[i].title,
                           runs[i].regional ? "strength " + region_strengths(*regions)
                                            : "PSNR to untiled " + psnr + " dB, seam " + fixed(r.seam_score, 2),
                           "tile-pixels " + std::to_string(r.tile_pixels)}});
    }
    out << "PSNR: the tiled output against the untiled one (8-bit images); seam: metrics::seam_score on the model "
           "tiles' borders\n";
    save_demo_png(o, "learned_contact_sheet.png", app::contact_sheet(panels, 5));
    return true;
}

/// `s` with the demo's flags: sampler, steps, seed, texture, the quadtree's strengths and the distributed exchange.
img2img_settings with_demo_flags(const demo_options& o, img2img_settings s) {
    s.sampler = o.sampler;
    s.steps = o.steps;
    s.seed = o.seed;
    s.texture = o.texture;
    s.quadtree.min_strength = o.min_strength;
    s.quadtree.max_strength = o.max_strength;
    s.exchange = o.exchange;
    return s;
}

void run_demo(demo_options o, std::ostream& out) {
    require_at_least("--texture", o.texture, 0.0);
    require_at_least("--learned-steps", o.learned_steps, 1);
    const auto make_out_dir = [&] {
        std::error_code failure;
        std::filesystem::create_directories(o.out_dir, failure);
        if (failure) throw io_error("--out-dir: cannot create '" + o.out_dir + "': " + failure.message());
    };
    if (o.distributed == "mpi") {
        app::mpi_world& world = app::mpi_world::get();
        o.exchange = world.exchange();
        o.writer = world.rank() == 0;
        o.model_threads = world.cores_per_rank();
        world.on_rank_0(make_out_dir);
    } else {
        make_out_dir();
    }
    std::ostringstream discarded;
    std::ostream& printed = o.writer ? out : discarded;
    const rgb_image image = app::load_rgb(o.image);
    // The seed's policies on the seed's own tiles.
    const img2img_settings base = with_demo_flags(o, img2img_settings::leaf_tiles());
    const tile::layout layout = tile::build_quadtree(image.view(), base.quadtree);
    const rgb_image overlay = app::draw_tile_overlay(image, layout);
    save_demo_png(o, "quadtree.png", overlay);
    if (o.writer)
        std::fprintf(stderr, "quadtree: %zu tiles on %lldx%lld pixels\n", layout.tiles.size(),
                     static_cast<long long>(layout.pixel_width()), static_cast<long long>(layout.pixel_height()));

    struct run {
        std::string policy, preservation, file;
        bool model_tiles = false;  ///< img2img's default: model-sized tiles, the quadtree as the mask's strengths
    };
    const std::vector<run> runs = {{"scale", "naive", "scale"},
                                   {"seed_scale", "naive", "seed_scale"},
                                   {"floor", "naive", "floor"},
                                   {"seed_floor", "naive", "seed_floor"},
                                   {"preservation_blend", "naive", "preservation_blend_naive"},
                                   {"preservation_blend", "exact", "preservation_blend_exact"},
                                   {"progress_ramp", "exact", "progress_ramp"},
                                   {"seed_ramp", "naive", "seed_ramp"},
                                   {"skip", "exact", "skip"},
                                   {"strength", "exact", "strength"},
                                   {"mask", "exact", "mask"},
                                   {"mask", "exact", "mask_model_tiles", true}};
    std::vector<std::pair<rgb_image, std::vector<std::string>>> panels;
    panels.push_back(
        {half_size(app::to_image(app::to_latent(image, layout.pixel_width(), layout.pixel_height()).cview())),
         {"original",
          std::to_string(layout.tiles.size()) + " quadtree tiles, " + std::to_string(o.steps) + " " + o.sampler +
              " steps",
          "errors and changes in 0..255 units"}});
    panels.push_back(
        {half_size(overlay),
         {"quadtree (denoise)", "area rule " + fixed(o.min_strength, 1) + ".." + fixed(o.max_strength, 1)}});
    json report = {{"image", o.image},
                   {"tiles", layout.tiles.size()},
                   {"steps", o.steps},
                   {"sampler", o.sampler},
                   {"policies", json::array()}};
    std::vector<img2img_report> reports;
    std::map<std::string, rgb_image> outputs;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        img2img_settings s = base;
        s.policy = runs[i].policy;
        s.preservation = policy::parse_preservation(runs[i].preservation);
        if (runs[i].model_tiles) s.model_tiles = tile::model_tile_options{};
        const auto result = app::run_img2img(image, s, demo_progress(o, runs[i].file), &layout);
        save_demo_png(o, runs[i].file + ".png", result.output);
        outputs.emplace(runs[i].file, result.output);
        img2img_report r = result.report;
        if (runs[i].model_tiles) r.policy += " (model tiles)";
        reports.push_back(r);
        std::string title = r.policy;
        if (title.rfind("preservation_blend", 0) == 0) title.replace(0, 18, "blend");
        panels.push_back(
            {half_size(result.output),
             {title,
              "low-d error " + fixed(r.low_strength_error, 1) + "   high-d change " + fixed(r.high_strength_change, 1),
              "model calls " + std::to_string(r.model_calls) + "   seam " + fixed(r.seam_score, 2)}});
        report["policies"].push_back(report_json(r));
    }
    // The seed's options read two ways: the document's velocity formulas and the code as ComfyUI runs it.
    const std::vector<std::pair<std::string, std::string>> readings = {
        {"scale", "seed_scale"}, {"floor", "seed_floor"}, {"progress_ramp", "seed_ramp"}};
    std::vector<double> reading_differences;
    for (const auto& [document, code] : readings) {
        reading_differences.push_back(app::mean_abs_difference(outputs.at(document), outputs.at(code)));
        report["document_vs_code"][document + " vs " + code] = reading_differences.back();
    }
    // Per-tile conditions: the suit and the background take their own condition (a target colour and a strength),
    // on img2img's default model tiles under the mask policy. Skipped for another image unless --regions is given.
    std::optional<app::region_map> regions = app::load_regions(o.regions, o.region_table);
    std::string regional_line;
    if (!o.regions_given && (regions->width != image.width || regions->height != image.height)) {
        regional_line = "regions: skipped (" + o.regions + " is " + std::to_string(regions->width) + "x" +
                        std::to_string(regions->height) + ", the image " + std::to_string(image.width) + "x" +
                        std::to_string(image.height) + "; give --regions for this image)\n";
        regions.reset();
    } else {
        std::vector<std::string> region_lines{"regions (--regions)"};
        for (const app::region& r : regions->regions) region_lines.push_back(region_line(r));
        panels.push_back({half_size(region_overlay(image, *regions)), region_lines});
        // Conditions are per tile: on img2img's default 64-128 px model tiles a tile takes the region covering most
        // of it, so the regions come out tile-shaped; 16-32 px model tiles follow them closer.
        struct regional_run {
            std::string title, file, key;
            std::int64_t min_tile, max_tile;
        };
        const regional_run regional_runs[] = {
            {"regions on 64-128 px", "regions", "regional", 64, 128},
            {"regions on 16-32 px", "regions_small_tiles", "regional_small_tiles", 16, 32}};
        for (const regional_run& run : regional_runs) {
            img2img_settings regional = with_demo_flags(o, img2img_settings{});  // img2img's model tiles and mask
            regional.regions = regions;
            regional.model_tiles->min_tile = run.min_tile;
            regional.model_tiles->max_tile = run.max_tile;
            const auto result = app::run_img2img(image, regional, demo_progress(o, run.title), &layout);
            save_demo_png(o, run.file + ".png", result.output);
            const img2img_report& rr = result.report;
            std::string by_condition;
            for (std::size_t k = 0; k < rr.tiles_by_condition.size(); ++k)
                by_condition += (k ? ", " : "") + std::to_string(rr.tiles_by_condition[k]);
            panels.push_back(
                {half_size(result.output),
                 {run.title, "model tiles per condition: " + by_condition,
                  "model calls " + std::to_string(rr.model_calls) + "   seam " + fixed(rr.seam_score, 2)}});
            report[run.key] = report_json(rr);
            regional_line += run.title + " tiles: model tiles per condition " + by_condition + ", model calls " +
                             std::to_string(rr.model_calls) + ", seam " + fixed(rr.seam_score, 3) + "\n";
        }
    }
    save_demo_png(o, "contact_sheet.png", app::contact_sheet(panels, 6));
    if (o.writer) app::write_file(o.out_dir + "/report.json", to_text(report) + "\n");

    char line[256];
    std::snprintf(line, sizeof line, "%-28s %12s %12s %10s %12s %8s %8s\n", "policy", "low-d error", "high-d chg",
                  "calls", "tile-pixels", "seam", "time s");
    printed << line;
    for (const img2img_report& r : reports) {
        std::snprintf(line, sizeof line, "%-28s %12.2f %12.2f %10lld %12lld %8.3f %8.2f\n", r.policy.c_str(),
                      r.low_strength_error, r.high_strength_change, static_cast<long long>(r.model_calls),
                      static_cast<long long>(r.tile_pixels), r.seam_score, r.seconds);
        printed << line;
    }
    printed << "0..255 units. low-d error: mean |output - original| where only tiles with d < 0.5 reach (their\n"
               "cores minus neighbours' overlap); high-d change: the same where only tiles with d >= 0.5 reach.\n";
    printed
        << "the seed's options as its document reads them (velocity slot) vs as its code runs in ComfyUI (denoised\n"
           "slot): mean |difference| of the outputs, 0..255 units\n";
    for (std::size_t i = 0; i < readings.size(); ++i) {
        std::snprintf(line, sizeof line, "  %-14s vs %-12s %8.2f\n", readings[i].first.c_str(),
                      readings[i].second.c_str(), reading_differences[i]);
        printed << line;
    }
    printed << regional_line;
    const bool learned = run_learned_demo(o, image, layout, regions, printed);
    printed << "wrote " << o.out_dir << "/{quadtree,contact_sheet,<policy>"
            << (learned ? ",learned_contact_sheet,learned_*" : "") << (regions ? ",regions,regions_small_tiles" : "")
            << "}.png and report.json\n";
    printed << "upscale an image: quadflow upscale --image " << o.image << " --scale 2 --out " << o.out_dir
            << "/upscaled.png (Catmull-Rom bicubic, then tiled img2img)\n";
}

}  // namespace

/// img2img's flags on `cmd` (img2img and upscale), writing into `o`.
void add_img2img_flags(CLI::App* cmd, const std::shared_ptr<img2img_options>& o) {
    cmd->add_option("--image", o->image, "Input image (PNG/JPEG)")->required();
    cmd->add_option("--out", o->out, "Output image: .png (PNG), .jpg or .jpeg (JPEG)")->required();
    cmd->add_option("--policy", o->policy, "Velocity policy (mask on model tiles; strength with --leaf-tiles)")
        ->transform(CLI::Transformer({{"floor_070", "floor"}}))  // floor's former name
        ->check(one_of(alternative_names<policy::any_policy>()));
    cmd->add_option("--preservation", o->preservation, joined_names<policy::preservation>() + " (preservation_blend)")
        ->check(one_of(names<policy::preservation>()));
    cmd->add_option("--sampler", o->sampler, joined_alternative_names<sampler::any_sampler>())
        ->check(one_of(alternative_names<sampler::any_sampler>()));
    add_bounded_option(*cmd, "--steps", o->steps, 1, max_cli_steps, "Sampling steps");
    cmd->add_option("--denoise", o->denoise, "Global denoise in (0, 1]");
    cmd->add_option("--strength-rule", o->strength_rule, joined_names<schedule::strength_rule>())
        ->check(one_of(names<schedule::strength_rule>()));
    cmd->add_option("--min-strength,--min-denoise", o->min_strength,
                    "Smallest tile strength (default as in demo: 0 keeps flat tiles)");
    cmd->add_option("--max-strength,--max-denoise", o->max_strength, "Largest tile strength");
    cmd->add_option("--leaf-rule,--denoise-rule", o->leaf_strength_rule, joined_names<tile::leaf_strength_rule>())
        ->check(one_of(names<tile::leaf_strength_rule>()));
    cmd->add_option("--threshold", o->threshold, "Quadtree content threshold (0..255)");
    cmd->add_option("--min-tile", o->min_tile, "Quadtree minimum tile size in pixels");
    cmd->add_option("--align", o->align, "Quadtree split alignment in pixels");
    add_bounded_option(*cmd, "--overlap", o->overlap, std::int64_t{0}, std::int64_t{4096},
                       "Tile overlap in pixels; with model tiles at most half of --max-model-tile");
    cmd->add_option("--latent-scale", o->latent_scale, "Image pixels per latent pixel (1 = pixel space)");
    cmd->add_option("--weights", o->weights, joined_names<blend::weight_kind>())
        ->check(one_of(names<blend::weight_kind>()));
    add_bounded_option(*cmd, "--tile-batch", o->tile_batch, 1, 4096, "Tiles per model call");
    cmd->add_option("--skip-below", o->skip_below,
                    "skip, seed_*: tiles whose smaller side is below this many pixels (the seed's "
                    "skip_diffusion_below)");
    cmd->add_option("--skip-strength,--skip-denoise", o->skip_denoise, "skip: tiles with strength at most this");
    cmd->add_option("--mask", o->mask, "mask: grayscale PNG of per-pixel strength (white = 1)");
    cmd->add_option("--mask-slope", o->mask_slope,
                    "mask: limit the strength map's change to this much per latent pixel (ramps at tile borders)");
    cmd->add_option("--strength-map", o->strength_map,
                    "mask: what paints the per-pixel strength: quadtree (default), a constant in [0, 1], or a "
                    "grayscale PNG");
    cmd->add_option("--model", o->model_path,
                    "A TorchScript flow model (models/flow_unet.pt) run through LibTorch instead of the analytic "
                    "'make it red' model");
    cmd->add_flag("--untiled", o->untiled,
                  "Run the whole canvas as one tile (policy mask, same per-pixel strength): the untiled reference");
    cmd->add_option("--shift-from", o->shift_from,
                    "FLUX's dynamic shift from the model tile's size (tile: --max-model-tile, or the whole canvas with "
                    "--leaf-tiles; at most the canvas) or from the canvas's (canvas: as an untiled engine does; large "
                    "images collapse the schedule)")
        ->check(CLI::IsMember({"tile", "canvas"}));
    cmd->add_option("--distributed", o->distributed,
                    "none, or mpi: under mpirun, split the model batches across the ranks (the output is the "
                    "single-process output, bit for bit); rank 0 alone writes files and JSON")
        ->check(CLI::IsMember({"none", "mpi"}));
    add_seed_option(*cmd, o->seed, "Noise seed (torch.manual_seed), 0 to 2^64 - 1");
    CLI::Option* regions =
        cmd->add_option("--regions", o->regions,
                        "A palette PNG of the image's size: each model tile takes the condition of the region covering "
                        "most of its core (docs/conditioning.md)");
    CLI::Option* table = cmd->add_option("--region-table", o->region_table,
                                         "JSON: each --regions colour's condition, and optionally its target colour "
                                         "(analytic model) and strength (mask policy)");
    regions->needs(table);
    table->needs(regions);
    cmd->add_option("--stats", o->stats, "Write the report JSON here");
    CLI::Option* seed_flag = cmd->add_flag("--leaf-tiles")
                                 ->description(
                                     "Run the model on the quadtree's own leaves, as the seed system does "
                                     "(down to --min-tile px), instead of model-sized tiles");
    cmd->add_flag("--model-tiles")
        ->description(
            "Run the model on model-sized tiles built from the quadtree, which stays the strength map "
            "(the default; policy mask unless --policy is given)")
        ->excludes(seed_flag);
    cmd->add_option("--min-model-tile", o->model.min_tile, "Smallest model tile side, latent px")->excludes(seed_flag);
    cmd->add_option("--max-model-tile", o->model.max_tile, "Largest model tile side, latent px")->excludes(seed_flag);
    cmd->add_option("--align-model", o->model.align, "Model tile origin alignment, latent px")->excludes(seed_flag);
}

void add_img2img_commands(CLI::App& app, std::ostream& out) {
    auto o = std::make_shared<img2img_options>();
    CLI::App* cmd = app.add_subcommand("img2img", "Pixel-space img2img over a quadtree with one velocity policy");
    add_img2img_flags(cmd, o);
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
    add_img2img_flags(up, u);
    up->get_option("--max-strength")->default_str("0.2");
    up->add_option("--scale", *u->scale, "Resize factor, > 0: the output is round(w * scale) x round(h * scale)");
    up->add_option("--filter", u->filter, "Resize filter: catmull_rom (bicubic, PIL's BICUBIC) or box (area average)")
        ->check(CLI::IsMember({"catmull_rom", "box"}));
    up->callback([u, up, &out] { run_img2img_command(*u, *up, out); });

    auto d = std::make_shared<demo_options>();
    CLI::App* demo =
        app.add_subcommand("demo", "Quadtree + img2img of the bundled photo once per policy, with a report");
    demo->add_option("--image", d->image, "Input image");
    demo->add_option("--out-dir", d->out_dir, "Output folder");
    demo->add_option("--sampler", d->sampler, joined_alternative_names<sampler::any_sampler>())
        ->check(one_of(alternative_names<sampler::any_sampler>()));
    add_bounded_option(*demo, "--steps", d->steps, 1, max_cli_steps, "Sampling steps");
    add_seed_option(*demo, d->seed, "Noise seed, 0 to 2^64 - 1");
    demo->add_option("--min-strength,--min-denoise", d->min_strength,
                     "Smallest tile strength (default 0: preserve, as in img2img)");
    demo->add_option("--max-strength,--max-denoise", d->max_strength, "Largest tile strength");
    demo->add_option("--texture", d->texture, "data_std of the prompt model (its texture, >= 0)");
    demo->add_option("--model", d->model, "The learned flow model for the demo's learned runs (needs LibTorch)");
    demo->add_option("--learned-steps", d->learned_steps, "Euler steps of the learned runs (>= 1)");
    demo->add_option("--regions", d->regions, "The regional run's palette PNG (default: the photo's suit)")
        ->each([d](const std::string&) { d->regions_given = true; });
    demo->add_option("--region-table", d->region_table, "The regional run's region table (JSON)");
    demo->add_option("--distributed", d->distributed,
                     "none, or mpi: under mpirun, split every run's model batches across the ranks; rank 0 alone "
                     "writes files and prints")
        ->check(CLI::IsMember({"none", "mpi"}));
    demo->callback([d, &out] { run_demo(*d, out); });
}

}  // namespace quadflow::cli
