// quadflow CLI: the `demo` subcommand: the bundled photo's quadtree and an img2img of it under each policy, the
// regional runs and the learned model's runs, with a contact sheet, report.json and printed tables.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "cli/flag_checks.hpp"
#include "cli/img2img_common.hpp"
#include "cli/json.hpp"
#include "cli/shared_flags.hpp"
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

/// A contact sheet's panel: an image and the lines under it.
using panel = std::pair<rgb_image, std::vector<std::string>>;

/// What the demo's runs add up to: the panels of contact_sheet.png and the document of report.json.
struct demo_sheet {
    std::vector<panel> panels;
    json report;
};

/// The learned model's runs.
struct learned_run {
    std::string title, file;
    bool untiled;
    std::int64_t overlap;
    bool regional = false;  ///< the regions' strengths in the mask (the learned model has no conditions)
};

/// Untiled (the reference), on model tiles without and with overlap, and with the regions' strengths when there are
/// regions.
std::vector<learned_run> learned_runs(bool with_regions) {
    std::vector<learned_run> runs = {{"untiled (reference)", "learned_untiled", true, 0},
                                     {"model tiles, overlap 0", "learned_overlap0", false, 0},
                                     {"model tiles, overlap 8 (default)", "learned_default", false, 8}};
    if (with_regions) runs.push_back({"regions' strengths, overlap 8", "learned_regions", false, 8, true});
    return runs;
}

/// The learned runs' settings: mask on model tiles, the quadtree as the per-pixel strength, the learned model.
img2img_settings learned_settings(const demo_options& o) {
    img2img_settings base;
    base.steps = o.learned_steps;
    base.seed = o.seed;
    base.quadtree.min_strength = o.min_strength;
    base.quadtree.max_strength = o.max_strength;
    base.model_path = o.model;
    base.model_threads = o.model_threads;
    base.exchange = o.exchange;
    return base;
}

/// Prints the learned runs' table (PSNR against the untiled run, the first) and adds their panels.
void report_learned_runs(const std::vector<learned_run>& runs, const std::vector<app::img2img_result>& results,
                         const std::optional<app::region_map>& regions, std::vector<panel>& panels, std::ostream& out) {
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
    const std::vector<learned_run> runs = learned_runs(regions.has_value());
    const img2img_settings base = learned_settings(o);
    std::vector<panel> panels;
    panels.push_back({image,
                      {"original", "learned flow model (models/flow_unet.pt)",
                       std::to_string(o.learned_steps) + " euler steps, mask policy"}});
    std::vector<app::img2img_result> results;
    for (const learned_run& r : runs) {
        img2img_settings s = base;
        s.untiled = r.untiled;
        s.model_tiles->overlap_latent = r.overlap;
        if (r.regional) s.regions = *regions;
        results.push_back(app::run_img2img(image, s, demo_progress(o, "learned: " + r.title), &layout));
        save_demo_png(o, r.file + ".png", results.back().output);
    }
    report_learned_runs(runs, results, regions, panels, out);
    save_demo_png(o, "learned_contact_sheet.png", app::contact_sheet(panels, 5));
    return true;
}

/// Checks the demo's flags, joins a distributed run (`o` then says whether this process writes) and creates the
/// output folder.
void start_demo(demo_options& o) {
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
}

/// The sheet's first panels (the original, the quadtree) and report.json's header.
demo_sheet opening_sheet(const demo_options& o, const rgb_image& image, const tile::layout& layout,
                         const rgb_image& overlay) {
    demo_sheet sheet;
    sheet.panels.push_back(
        {half_size(app::to_image(app::to_latent(image, layout.pixel_width(), layout.pixel_height()).cview())),
         {"original",
          std::to_string(layout.tiles.size()) + " quadtree tiles, " + std::to_string(o.steps) + " " + o.sampler +
              " steps",
          "errors and changes in 0..255 units"}});
    sheet.panels.push_back(
        {half_size(overlay),
         {"quadtree (denoise)", "area rule " + fixed(o.min_strength, 1) + ".." + fixed(o.max_strength, 1)}});
    sheet.report = {{"image", o.image},
                    {"tiles", layout.tiles.size()},
                    {"steps", o.steps},
                    {"sampler", o.sampler},
                    {"policies", json::array()}};
    return sheet;
}

/// One policy run of the demo.
struct policy_run {
    std::string policy, preservation, file;
    bool model_tiles = false;  ///< img2img's default: model-sized tiles, the quadtree as the mask's strengths
};

/// The policy runs' reports, and their outputs by file name.
struct policy_results {
    std::vector<img2img_report> reports;
    std::map<std::string, rgb_image> outputs;
};

/// Every policy on the seed's own tiles (`base`), and mask on model tiles; writes <file>.png for each.
policy_results run_policy_demos(const demo_options& o, const rgb_image& image, const tile::layout& layout,
                                const img2img_settings& base, demo_sheet& sheet) {
    const std::vector<policy_run> runs = {{"scale", "naive", "scale"},
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
    policy_results results;
    for (const policy_run& run : runs) {
        img2img_settings s = base;
        s.policy = run.policy;
        s.preservation = policy::parse_preservation(run.preservation);
        if (run.model_tiles) s.model_tiles = tile::model_tile_options{};
        const auto result = app::run_img2img(image, s, demo_progress(o, run.file), &layout);
        save_demo_png(o, run.file + ".png", result.output);
        results.outputs.emplace(run.file, result.output);
        img2img_report r = result.report;
        if (run.model_tiles) r.policy += " (model tiles)";
        results.reports.push_back(r);
        std::string title = r.policy;
        if (title.rfind("preservation_blend", 0) == 0) title.replace(0, 18, "blend");
        sheet.panels.push_back(
            {half_size(result.output),
             {title,
              "low-d error " + fixed(r.low_strength_error, 1) + "   high-d change " + fixed(r.high_strength_change, 1),
              "model calls " + std::to_string(r.model_calls) + "   seam " + fixed(r.seam_score, 2)}});
        sheet.report["policies"].push_back(report_json(r));
    }
    return results;
}

/// The seed's options read two ways: the document's velocity formulas (first) and the code as ComfyUI runs it.
constexpr std::pair<const char*, const char*> seed_readings[] = {
    {"scale", "seed_scale"}, {"floor", "seed_floor"}, {"progress_ramp", "seed_ramp"}};

/// Mean |difference| of each reading's two outputs, also put in report.json.
std::vector<double> compare_readings(const std::map<std::string, rgb_image>& outputs, json& report) {
    std::vector<double> differences;
    for (const auto& [document, code] : seed_readings) {
        differences.push_back(app::mean_abs_difference(outputs.at(document), outputs.at(code)));
        report["document_vs_code"][std::string(document) + " vs " + code] = differences.back();
    }
    return differences;
}

/// A regional run: the regions on model tiles of this size range.
struct regional_run {
    std::string title, file, key;
    std::int64_t min_tile, max_tile;
};

/// One regional run: writes <file>.png, adds its panel and report; returns its printed line.
std::string run_regional_demo(const demo_options& o, const rgb_image& image, const tile::layout& layout,
                              const app::region_map& regions, const regional_run& run, demo_sheet& sheet) {
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
    sheet.panels.push_back({half_size(result.output),
                            {run.title, "model tiles per condition: " + by_condition,
                             "model calls " + std::to_string(rr.model_calls) + "   seam " + fixed(rr.seam_score, 2)}});
    sheet.report[run.key] = report_json(rr);
    return run.title + " tiles: model tiles per condition " + by_condition + ", model calls " +
           std::to_string(rr.model_calls) + ", seam " + fixed(rr.seam_score, 3) + "\n";
}

/// Per-tile conditions: the suit and the background take their own condition (a target colour and a strength), on
/// img2img's default model tiles under the mask policy. Skipped, `regions` reset, for another image unless --regions
/// is given. Returns the printed lines.
std::string run_regional_demos(const demo_options& o, const rgb_image& image, const tile::layout& layout,
                               std::optional<app::region_map>& regions, demo_sheet& sheet) {
    if (!o.regions_given && (regions->width != image.width || regions->height != image.height)) {
        const std::string skipped = "regions: skipped (" + o.regions + " is " + std::to_string(regions->width) + "x" +
                                    std::to_string(regions->height) + ", the image " + std::to_string(image.width) +
                                    "x" + std::to_string(image.height) + "; give --regions for this image)\n";
        regions.reset();
        return skipped;
    }
    std::vector<std::string> region_lines{"regions (--regions)"};
    for (const app::region& r : regions->regions) region_lines.push_back(region_line(r));
    sheet.panels.push_back({half_size(region_overlay(image, *regions)), region_lines});
    // Conditions are per tile: on img2img's default 64-128 px model tiles a tile takes the region covering most
    // of it, so the regions come out tile-shaped; 16-32 px model tiles follow them closer.
    const regional_run regional_runs[] = {
        {"regions on 64-128 px", "regions", "regional", 64, 128},
        {"regions on 16-32 px", "regions_small_tiles", "regional_small_tiles", 16, 32}};
    std::string printed;
    for (const regional_run& run : regional_runs) printed += run_regional_demo(o, image, layout, *regions, run, sheet);
    return printed;
}

/// The policies' table and the readings' differences.
void print_policy_table(std::ostream& printed, const std::vector<img2img_report>& reports,
                        const std::vector<double>& reading_differences) {
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
    for (std::size_t i = 0; i < reading_differences.size(); ++i) {
        std::snprintf(line, sizeof line, "  %-14s vs %-12s %8.2f\n", seed_readings[i].first, seed_readings[i].second,
                      reading_differences[i]);
        printed << line;
    }
}

void run_demo(demo_options o, std::ostream& out) {
    start_demo(o);
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
    demo_sheet sheet = opening_sheet(o, image, layout, overlay);
    const policy_results policies = run_policy_demos(o, image, layout, base, sheet);
    const std::vector<double> reading_differences = compare_readings(policies.outputs, sheet.report);
    std::optional<app::region_map> regions = app::load_regions(o.regions, o.region_table);
    const std::string regional_lines = run_regional_demos(o, image, layout, regions, sheet);
    save_demo_png(o, "contact_sheet.png", app::contact_sheet(sheet.panels, 6));
    if (o.writer) app::write_file(o.out_dir + "/report.json", to_text(sheet.report) + "\n");

    print_policy_table(printed, policies.reports, reading_differences);
    printed << regional_lines;
    const bool learned = run_learned_demo(o, image, layout, regions, printed);
    printed << "wrote " << o.out_dir << "/{quadtree,contact_sheet,<policy>"
            << (learned ? ",learned_contact_sheet,learned_*" : "") << (regions ? ",regions,regions_small_tiles" : "")
            << "}.png and report.json\n";
    printed << "upscale an image: quadflow upscale --image " << o.image << " --scale 2 --out " << o.out_dir
            << "/upscaled.png (Catmull-Rom bicubic, then tiled img2img)\n";
}

}  // namespace

void add_demo_command(CLI::App& app, std::ostream& out) {
    auto d = std::make_shared<demo_options>();
    CLI::App* demo =
        app.add_subcommand("demo", "Quadtree + img2img of the bundled photo once per policy, with a report");
    demo->add_option("--image", d->image, "Input image");
    demo->add_option("--out-dir", d->out_dir, "Output folder");
    add_sampler_option(*demo, d->sampler);
    add_bounded_option(*demo, "--steps", d->steps, 1, max_cli_steps, "Sampling steps");
    add_seed_option(*demo, d->seed, "Noise seed, 0 to 2^64 - 1");
    add_strength_range_options(*demo, d->min_strength, d->max_strength,
                               "Smallest tile strength (default 0: preserve, as in img2img)", "Largest tile strength");
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
