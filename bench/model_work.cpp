// quadflow model work: model calls and tile-pixels of whole img2img runs of the bundled photo at 1x, 2x and 4x,
// for ComfyUI-TiledDiffusion's grid and for the seed system's quadtree with three velocity policies, with the
// quality numbers of the demo report. Prints a table and writes JSON (--json-out).
//
//   model_work [--image PATH] [--scales 1,2,4] [--steps 20] [--seed 42] [--min-denoise 0.2] [--max-denoise 0.8]
//              [--grid-denoise 0.8] [--skip-denoise 0.35] [--skip-below 0] [--mask-slope 0.1]
//              [--proposal-overlap 64] [--json-out FILE] [--images-dir DIR]
//
// Per scale: the photo is upscaled with a bilinear filter; the quadtree is built on that image with the seed
// system's defaults (threshold 25, min tile 4 px, align 8, overlap off, area rule min..max denoise, latent scale 8);
// the "latent" is the image averaged over 8 x 8 pixel blocks (RGB, 3 channels, what a VAE's latent grid is to
// the image), and the img2img of apps/quadflow/include/quadflow_app/img2img_pipeline.hpp runs on it: 20 Euler steps of
// the FLUX schedule for the full image size, the analytic "make it red" model, noise torch.randn(seed).
//
// Configurations:
//   grid              ComfyUI-TiledDiffusion defaults: 96 latent px tiles, overlap 8, batch 4, Mixture of
//                     Diffusers weights; a KSampler img2img at denoise --grid-denoise (the schedule stretched
//                     ComfyUI's way, so every step calls the model for every tile).
//   quadtree          the seed system: velocity d * v_m (its commit 98e3cbf), model called for every tile with d > 0.
//   quadtree + skip   the seed's option C: tiles with d <= --skip-denoise (or smaller than --skip-below px) never
//                     reach the model and are preserved exactly; the others take the model's velocity.
//   quadtree + strength  each tile is img2img at its own d: no model call before its start step.
//   quadtree + mask, slope-limited strength  the `mask` policy (Differential Diffusion) on the tiles' strengths
//                     painted per pixel and slope-limited (policy::slope_limited, --mask-slope strength per latent px,
//                     Chebyshev distance): below the painted map everywhere, so no tile is released earlier, and
//                     the higher-d side of a border ramps down to its neighbour instead of stepping.
//   quadtree + strength, overlap  the same with --proposal-overlap px of overlap (not a seed default: measured
//                     to show what overlap costs and buys at the borders).
//
// Quality, in 0..255 units, measured for every configuration on the same pixels (the quadtree's regions):
//   low-d change   mean |output - original| where only quadtree tiles with d < 0.5 reach;
//   high-d change  the same where only tiles with d >= 0.5 reach;
//   seam           metrics::seam_score on the run's own tile borders (0 when the layout is one tile), and on the
//                  quadtree's borders for every configuration (so runs on different layouts compare on the same lines).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "program.hpp"
#include "quadflow/metrics/metrics.hpp"
#include "quadflow/tile/grid.hpp"
#include "quadflow/tile/quadtree.hpp"
#include "quadflow_app/file_io.hpp"
#include "quadflow_app/image_io.hpp"
#include "quadflow_app/img2img_pipeline.hpp"

#ifndef QUADFLOW_DEMO_IMAGE
#define QUADFLOW_DEMO_IMAGE "apps/quadflow/data/astronaut.png"
#endif

namespace {

using namespace quadflow;
using app::rgb;
using app::rgb_image;

constexpr int latent_scale = 8;

std::uint8_t clamp_byte(double v) { return static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

/// The two source pixels on one axis of `size` px that target pixel `target` of an upscale by `factor` blends, and
/// the weight of the second.
struct bilinear_taps {
    std::int64_t first, second;
    double weight;
};

/// Pixel centres aligned: source = (target + 0.5) / factor - 0.5, clamped to the edges.
bilinear_taps source_taps(std::int64_t target, int factor, std::int64_t size) {
    const double source =
        std::clamp((static_cast<double>(target) + 0.5) / factor - 0.5, 0.0, static_cast<double>(size - 1));
    const auto first = static_cast<std::int64_t>(source);
    return {first, std::min(first + 1, size - 1), source - static_cast<double>(first)};
}

/// Bilinear resampling by an integer factor (source_taps on each axis). factor 1 returns the image unchanged.
rgb_image upscale_bilinear(const rgb_image& image, int factor) {
    if (factor == 1) return image;
    rgb_image out(image.width * factor, image.height * factor);
    for (std::int64_t y = 0; y < out.height; ++y) {
        const bilinear_taps ty = source_taps(y, factor, image.height);
        for (std::int64_t x = 0; x < out.width; ++x) {
            const bilinear_taps tx = source_taps(x, factor, image.width);
            const rgb a = image.at(tx.first, ty.first), b = image.at(tx.second, ty.first),
                      c = image.at(tx.first, ty.second), d = image.at(tx.second, ty.second);
            const double fx = tx.weight, fy = ty.weight;
            auto mix = [fx, fy](std::uint8_t pa, std::uint8_t pb, std::uint8_t pc, std::uint8_t pd) {
                return clamp_byte((1 - fy) * ((1 - fx) * pa + fx * pb) + fy * ((1 - fx) * pc + fx * pd));
            };
            out.set(x, y, {mix(a.r, b.r, c.r, d.r), mix(a.g, b.g, c.g, d.g), mix(a.b, b.b, c.b, d.b)});
        }
    }
    return out;
}

/// The mean of each block x block square (rounded): floor(W / block) x floor(H / block) pixels.
rgb_image block_average(const rgb_image& image, int block) {
    rgb_image out(image.width / block, image.height / block);
    for (std::int64_t y = 0; y < out.height; ++y)
        for (std::int64_t x = 0; x < out.width; ++x) {
            double r = 0, g = 0, b = 0;
            for (int dy = 0; dy < block; ++dy)
                for (int dx = 0; dx < block; ++dx) {
                    const rgb p = image.at(x * block + dx, y * block + dy);
                    r += p.r, g += p.g, b += p.b;
                }
            const double n = block * block;
            out.set(x, y, {clamp_byte(r / n), clamp_byte(g / n), clamp_byte(b / n)});
        }
    return out;
}

struct configuration {
    std::string name;
    std::string policy;
    bool grid = false;
    double global_denoise = 1.0;
    bool proposal = false;
    bool slope_limited = false;  ///< mask policy on the slope-limited painted map (--mask-slope)
};

struct row {
    int scale = 1;
    std::string configuration;
    std::int64_t pixel_width = 0, pixel_height = 0, latent_width = 0, latent_height = 0, tiles = 0;
    std::int64_t model_calls = 0, tile_pixels = 0;
    double low_change = 0, high_change = 0, seam_own = 0, seam_quadtree = 0, contrast_quadtree = 0, seconds = 0;
};

std::string json_number(double v) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.6g", v);
    return buffer;
}

std::string json_row(const row& r) {
    return "{\"scale\": " + std::to_string(r.scale) + ", \"configuration\": \"" + r.configuration +
           "\", \"pixel_width\": " + std::to_string(r.pixel_width) +
           ", \"pixel_height\": " + std::to_string(r.pixel_height) +
           ", \"latent_width\": " + std::to_string(r.latent_width) +
           ", \"latent_height\": " + std::to_string(r.latent_height) + ", \"tiles\": " + std::to_string(r.tiles) +
           ", \"model_calls\": " + std::to_string(r.model_calls) +
           ", \"tile_pixels\": " + std::to_string(r.tile_pixels) + ", \"low_d_change\": " + json_number(r.low_change) +
           ", \"high_d_change\": " + json_number(r.high_change) + ", \"seam_own_borders\": " + json_number(r.seam_own) +
           ", \"seam_quadtree_borders\": " + json_number(r.seam_quadtree) +
           ", \"seam_contrast_quadtree_borders\": " + json_number(r.contrast_quadtree) +
           ", \"seconds\": " + json_number(r.seconds) + "}";
}

}  // namespace

struct work_flags {
    std::string image = QUADFLOW_DEMO_IMAGE, json_out, images_dir, proposal_rule = "depth";
    std::vector<std::int64_t> scales{1, 2, 4};
    int steps = 20;
    std::uint64_t seed = 42;
    double min_strength = 0.2, max_strength = 0.8, grid_denoise = 0.8, skip_denoise = 0.35, mask_slope = 0.1;
    std::int64_t skip_below = 0, proposal_overlap = 0;
    std::optional<double> proposal_threshold;
};

/// The run: the photo, its scales, the schedule's steps and the noise.
void add_run_flags(CLI::App& app, work_flags& flags) {
    app.add_option("--image", flags.image, "Input image");
    app.add_option("--scales", flags.scales, "Upscale factors, each in [1, 16]")->delimiter(',');
    app.add_option("--steps", flags.steps, "Sampling steps");
    app.add_option("--seed", flags.seed, "Noise seed");
}

/// The seed quadtree's strengths and the grid's denoise.
void add_denoise_flags(CLI::App& app, work_flags& flags) {
    app.add_option("--min-denoise", flags.min_strength, "Quadtree min_strength");
    app.add_option("--max-denoise", flags.max_strength, "Quadtree max_strength");
    app.add_option("--grid-denoise", flags.grid_denoise, "Denoise of every grid tile");
}

/// The skip and mask policies' settings.
void add_policy_flags(CLI::App& app, work_flags& flags) {
    app.add_option("--skip-denoise", flags.skip_denoise, "skip: tiles with strength at most this");
    app.add_option("--skip-below", flags.skip_below, "skip: tiles whose smaller side is below this many pixels");
    app.add_option("--mask-slope", flags.mask_slope, "mask: strength change per latent px (> 0)");
}

/// The proposal's quadtree (the last configuration).
void add_proposal_flags(CLI::App& app, work_flags& flags) {
    app.add_option("--proposal-overlap", flags.proposal_overlap, "The proposal's quadtree overlap, px");
    app.add_option("--proposal-rule", flags.proposal_rule, "The proposal's denoise rule: area|depth");
    app.add_option("--proposal-threshold", flags.proposal_threshold,
                   "The proposal's content threshold (default: the seed quadtree's)");
}

int main(int argc, char** argv) {
    work_flags flags;
    CLI::App app{"quadflow model work: whole img2img runs of the demo photo per configuration and scale"};
    app.option_defaults()->always_capture_default();
    add_run_flags(app, flags);
    add_denoise_flags(app, flags);
    add_policy_flags(app, flags);
    add_proposal_flags(app, flags);
    app.add_option("--json-out", flags.json_out, "Write the rows and goals as JSON here");
    app.add_option("--images-dir", flags.images_dir, "Write every output image here");
    app.callback([&] {
        const std::string& image_path = flags.image;
        const std::vector<std::int64_t>& scales = flags.scales;
        const std::string& images_dir = flags.images_dir;
        if (!images_dir.empty()) std::filesystem::create_directories(images_dir);

        tile::quadtree_options seed_quadtree;  // the seed system's defaults, latent scale 8, overlap off
        seed_quadtree.min_strength = flags.min_strength;
        seed_quadtree.max_strength = flags.max_strength;
        tile::quadtree_options proposal = seed_quadtree;  // the last configuration: what would meet the goal
        proposal.overlap_pixels = flags.proposal_overlap;
        proposal.rule = tile::parse_leaf_strength_rule(flags.proposal_rule);
        proposal.content_threshold = flags.proposal_threshold.value_or(seed_quadtree.content_threshold);

        app::img2img_settings base = app::img2img_settings::leaf_tiles();
        base.steps = flags.steps;
        base.seed = flags.seed;
        base.skip_below = flags.skip_below;
        base.skip_denoise_at_most = flags.skip_denoise;
        const double grid_denoise = flags.grid_denoise;
        const double mask_slope = flags.mask_slope;
        require(mask_slope > 0.0, "--mask-slope", mask_slope, "must be > 0 (strength per latent px)");

        const std::string proposal_name =
            "quadtree + strength, " + std::string(tile::to_string(proposal.rule)) + " rule" +
            (proposal.overlap_pixels > 0 ? ", overlap " + std::to_string(proposal.overlap_pixels) + " px" : "") +
            (proposal.content_threshold != seed_quadtree.content_threshold
                 ? ", threshold " + json_number(proposal.content_threshold)
                 : "");
        const std::vector<configuration> configurations = {
            {"grid 96/8 (ComfyUI-TiledDiffusion)", "scale", true, grid_denoise, false},
            {"quadtree (seed, d * v)", "scale", false, 1.0, false},
            {"quadtree + skip", "skip", false, 1.0, false},
            {"quadtree + strength", "strength", false, 1.0, false},
            {"quadtree + mask, slope-limited strength", "mask", false, 1.0, false, true},
            {proposal_name, "strength", false, 1.0, true},  // last: make_report.py plots the last row as the proposal
        };
        const std::vector<const configuration*> candidates = {&configurations[3], &configurations[4],
                                                              &configurations[5]};

        const rgb_image photo = app::load_rgb(image_path);
        std::vector<row> rows;
        std::printf("%-5s %-44s %11s %6s %7s %12s %8s %8s %8s %8s %8s\n", "scale", "configuration", "image px", "tiles",
                    "calls", "tile-pixels", "low-d", "high-d", "seam", "seam qt", "contr qt");
        for (const std::int64_t scale : scales) {
            require(scale >= 1 && scale <= 16, "--scales", scale, "must be in [1, 16]");
            const rgb_image image = upscale_bilinear(photo, static_cast<int>(scale));
            const tile::layout quadtree = tile::build_quadtree(image.view(), seed_quadtree);
            const tile::layout quadtree_proposal = tile::build_quadtree(image.view(), proposal);
            const rgb_image latent_image = block_average(image, latent_scale);
            tile::grid_options grid_options;  // 96 / 8, latent scale 8, every tile at strength 1
            const tile::layout grid = tile::build_grid(quadtree.width, quadtree.height, grid_options);
            const host_tensor original = app::to_latent(latent_image, quadtree.width, quadtree.height);

            for (const configuration& c : configurations) {
                app::img2img_settings s = base;
                s.policy = c.policy;
                s.denoise = c.global_denoise;
                if (c.slope_limited) s.mask_slope = mask_slope;
                const tile::layout& layout = c.grid ? grid : (c.proposal ? quadtree_proposal : quadtree);
                const app::img2img_result result = app::run_img2img(latent_image, s, {}, &layout);
                const host_tensor output = app::to_latent(result.output, quadtree.width, quadtree.height);
                row r;
                r.scale = static_cast<int>(scale);
                r.configuration = c.name;
                r.pixel_width = image.width;
                r.pixel_height = image.height;
                r.latent_width = quadtree.width;
                r.latent_height = quadtree.height;
                r.tiles = static_cast<std::int64_t>(layout.tiles.size());
                r.model_calls = result.report.model_calls;
                r.tile_pixels = result.report.tile_pixels;
                r.low_change =
                    127.5 * metrics::tile_region_error(output.cview(), original.cview(), quadtree,
                                                       [](const tile::layout_tile& t) { return t.strength < 0.5; })
                                .mean;
                r.high_change =
                    127.5 * metrics::tile_region_error(output.cview(), original.cview(), quadtree,
                                                       [](const tile::layout_tile& t) { return t.strength >= 0.5; })
                                .mean;
                r.seam_own = metrics::seam_score(output.cview(), layout);
                r.seam_quadtree = metrics::seam_score(output.cview(), quadtree);
                r.contrast_quadtree = metrics::seam_contrast(output.cview(), quadtree);
                r.seconds = result.report.seconds;
                rows.push_back(r);
                std::printf("%-5s %-44s %5lldx%-5lld %6lld %7lld %12lld %8.2f %8.2f %8.3f %8.3f %8.3f\n",
                            (std::to_string(scale) + "x").c_str(), c.name.c_str(), static_cast<long long>(image.width),
                            static_cast<long long>(image.height), static_cast<long long>(r.tiles),
                            static_cast<long long>(r.model_calls), static_cast<long long>(r.tile_pixels), r.low_change,
                            r.high_change, r.seam_own, r.seam_quadtree, r.contrast_quadtree);
                if (!images_dir.empty()) {
                    std::string file = c.name;
                    std::replace_if(
                        file.begin(), file.end(), [](char ch) { return !std::isalnum(static_cast<unsigned char>(ch)); },
                        '_');
                    app::save_png(images_dir + "/" + std::to_string(scale) + "x_" + file + ".png", result.output);
                }
            }
        }

        std::printf(
            "\ntile-pixels: padded latent pixels sent to the model over the run (channels once); 0..255 units;\n"
            "low-d / high-d: mean |output - original| where only quadtree tiles with d < 0.5 / d >= 0.5 reach.\n"
            "seam: seam score on the run's own tile borders; seam qt: on the quadtree's borders (the same lines for\n"
            "every run); contr qt: metrics::seam_contrast on the quadtree's borders (1 = as smooth as beside them).\n"
            "goal: quadtree + strength <= 0.5 x the grid's tile-pixels at a seam score <= the grid's;\n"
            "mask slope %g strength per latent px\n",
            mask_slope);
        std::string goals = "[";
        for (const std::int64_t scale : scales) {
            auto find = [&](const configuration& c) {
                return *std::find_if(rows.begin(), rows.end(),
                                     [&](const row& r) { return r.scale == scale && r.configuration == c.name; });
            };
            const row grid_row = find(configurations[0]);
            for (const configuration* candidate : candidates) {
                const row r = find(*candidate);
                const double work_ratio =
                    static_cast<double>(r.tile_pixels) / static_cast<double>(grid_row.tile_pixels);
                // Seams compared on the same lines, the quadtree's borders: the grid's own borders are one or two
                // lines through the picture at 2x and 4x, and none at 1x (one tile).
                const double seam_ratio = r.seam_quadtree / grid_row.seam_quadtree;
                const bool met = work_ratio <= 0.5 && seam_ratio <= 1.0;
                std::printf(
                    "  %lldx %-44s tile-pixels %.3f x the grid's (goal <= 0.5), seam on the quadtree's borders "
                    "%.3f vs %.3f (x %.3f, goal <= 1): %s; seam contrast %.3f vs %.3f\n",
                    static_cast<long long>(scale), (r.configuration + ":").c_str(), work_ratio, r.seam_quadtree,
                    grid_row.seam_quadtree, seam_ratio, met ? "met" : "not met", r.contrast_quadtree,
                    grid_row.contrast_quadtree);
                goals += std::string(goals.size() > 1 ? ",\n  " : "\n  ") + "{\"scale\": " + std::to_string(scale) +
                         ", \"configuration\": \"" + r.configuration +
                         "\", \"tile_pixels_ratio\": " + json_number(work_ratio) +
                         ", \"seam_quadtree_borders\": " + json_number(r.seam_quadtree) +
                         ", \"grid_seam_quadtree_borders\": " + json_number(grid_row.seam_quadtree) +
                         ", \"seam_ratio\": " + json_number(seam_ratio) +
                         ", \"seam_contrast\": " + json_number(r.contrast_quadtree) +
                         ", \"grid_seam_contrast\": " + json_number(grid_row.contrast_quadtree) +
                         ", \"met\": " + (met ? "true" : "false") + "}";
            }
        }
        goals += "]";

        const std::string& json_out = flags.json_out;
        if (!json_out.empty()) {
            std::string json = "{\"image\": \"" + image_path + "\", \"steps\": " + std::to_string(base.steps) +
                               ", \"seed\": " + std::to_string(base.seed) +
                               ", \"latent_scale\": " + std::to_string(latent_scale) +
                               ", \"min_strength\": " + json_number(seed_quadtree.min_strength) +
                               ", \"max_strength\": " + json_number(seed_quadtree.max_strength) +
                               ", \"grid_denoise\": " + json_number(grid_denoise) +
                               ", \"skip_denoise\": " + json_number(base.skip_denoise_at_most) +
                               ", \"skip_below\": " + std::to_string(base.skip_below) +
                               ", \"mask_slope\": " + json_number(mask_slope) + ", \"rows\": [";
            for (std::size_t i = 0; i < rows.size(); ++i) json += (i ? ",\n  " : "\n  ") + json_row(rows[i]);
            json += "],\n \"goal\": " + goals + "}\n";
            app::write_file(json_out, json);
        }
    });
    return quadflow::bench::run_program(app, argc, argv);
}
