// quadflow learned-model work against fidelity: tile-pixels sent to the learned flow model (models/flow_unet.pt,
// LibTorch) against the PSNR of each tiled run to its own untiled run, for the grid and for model-sized tiles from
// the quadtree, at 1x, 2x and 4x. Prints a markdown table and the goal lines, writes a CSV.
//
//   learned_work_fidelity [--model models/flow_unet.pt] [--image apps/quadflow/data/astronaut.png] [--crop 128]
//                         [--x 192] [--y 112] [--scales 1,2,4] [--steps 8] [--grid-tile 64]
//                         [--large-grid-tile 128] [--grid-overlap 8] [--csv FILE]
//
// Per scale s: the crop is upscaled s times (bicubic, app::resize) and is the pixel-space "latent" (RGB in [-1, 1],
// latent scale 1). The quadtree is built on it (the app's settings, overlap off, strengths min 0 .. max 0.8) and
// painted per pixel. Five configurations, smootherstep weights, each against the untiled run (the whole canvas as
// one tile) with the same policy, noise and per-pixel strength:
//   grid + strength      --grid-tile / --grid-overlap grid, every pixel at the quadtree's largest strength (the one
//                        denoise a grid user would pick to regenerate the detailed regions): the FLUX schedule
//                        truncated there (diffusers' rule), the model's velocity everywhere (`scale`);
//   grid + mask          the same grid, the quadtree's per-pixel strength under `mask` on the full schedule;
//   large grid + mask    the same with --large-grid-tile tiles (as large as the largest model tile);
//   model tiles + mask   tile::build_model_tiles of the quadtree (64..128 px, align 2, overlap 8), `mask`;
//   model tiles + strength  the same tiles, each img2img at its own strength (`strength`); its untiled run is `mask`
//                        with each model tile's core painted so that its pixels are released at the step where
//                        `strength` releases the tile (release_step_strengths: the same per-pixel strength).
// Columns: tile-pixels (padded pixels sent to the model over the run) and their ratio to the untiled run's; PSNR to
// untiled over the whole canvas and outside the overlap bands (pixels one padded tile covers); max |tiled - untiled|;
// seam contrast on the layout's borders, tiled and untiled. The goal lines add the tile-pixels per released
// pixel-step (a pixel released under `mask` at a step of the full schedule: the work of an ideal tiling is 1).
// Goal (issue 17): model tiles + mask within 0.5 dB of grid + mask with <= 0.7x its tile-pixels at 2x and 4x.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "../program.hpp"
#include "learned_runs.hpp"
#include "quadflow/metrics/metrics.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/policy/strength_map.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/schedule/strength.hpp"
#include "quadflow/tile/grid.hpp"
#include "quadflow/tile/model_tiles.hpp"
#include "quadflow/tile/quadtree.hpp"
#include "quadflow_app/image_io.hpp"
#include "quadflow_app/img2img_pipeline.hpp"

namespace {

using namespace quadflow;
namespace learned = quadflow::bench::learned;

struct options {
    std::string model = "models/flow_unet.pt", image = "apps/quadflow/data/astronaut.png", csv;
    std::int64_t crop = 128, x = 192, y = 112, grid_tile = 64, large_grid_tile = 128, grid_overlap = 8;
    int steps = 8;
    std::vector<std::int64_t> scales{1, 2, 4};
};

/// The scales and the grids: upscale factors, grid tile sides and overlap.
void add_scale_flags(CLI::App& app, options& o) {
    app.add_option("--scales", o.scales, "Upscale factors, each in [1, 8]")->delimiter(',');
    app.add_option("--grid-tile", o.grid_tile, "Grid tile side, px");
    app.add_option("--large-grid-tile", o.large_grid_tile, "Tile side of the large grid, px");
    app.add_option("--grid-overlap", o.grid_overlap, "Grid overlap, px");
}

struct row {
    std::int64_t scale = 0;
    std::string configuration;
    std::int64_t tiles = 0, tile_pixels = 0, untiled_tile_pixels = 0, released_pixel_steps = 0;
    double psnr = 0, psnr_single = 0, max_abs = 0, seam = 0, seam_untiled = 0, seconds = 0;
};

/// PSNR of `a` against `b` over the pixels that only one tile's padded rectangle covers (outside the overlap bands);
/// infinite when they are equal there, NaN when every pixel lies in an overlap band.
double psnr_outside_overlaps(const_view a, const_view b, const tile::layout& layout) {
    std::vector<int> covering(static_cast<std::size_t>(layout.width * layout.height), 0);
    for (const tile::layout_tile& t : layout.tiles)
        for (std::int64_t y = std::max<std::int64_t>(t.padded.y, 0); y < std::min(t.padded.bottom(), layout.height);
             ++y)
            for (std::int64_t x = std::max<std::int64_t>(t.padded.x, 0); x < std::min(t.padded.right(), layout.width);
                 ++x)
                ++covering[static_cast<std::size_t>(y * layout.width + x)];
    double sum = 0;
    std::int64_t count = 0;
    const std::int64_t plane = layout.width * layout.height;
    for (std::int64_t i = 0; i < a.numel(); ++i)
        if (covering[static_cast<std::size_t>(i % plane)] == 1) {
            const double d = double(a.data()[i]) - double(b.data()[i]);
            sum += d * d;
            ++count;
        }
    if (count == 0) return std::numeric_limits<double>::quiet_NaN();
    return sum == 0.0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(4.0 / (sum / double(count)));
}

/// `layout` with each tile's strength d replaced by the `mask` strength that releases a pixel at the step where
/// `strength` releases the tile: tau(sigma at its start step), the start step by diffusers' rule (the field's);
/// 0 (never released) for a tile that never starts. `strength` counts steps and `mask` compares tau(sigma) to the
/// strength, so under the FLUX shift the same d releases later under `mask`; this map makes them agree.
tile::layout release_step_strengths(tile::layout layout, const std::vector<double>& sigmas) {
    const std::size_t steps = sigmas.size() - 1;
    const double first = sigmas.front(), last = sigmas.back();
    for (tile::layout_tile& t : layout.tiles) {
        const std::size_t start = schedule::img2img_start_index(schedule::strength_rule::diffusers, steps, t.strength);
        t.strength = start < steps ? static_cast<float>((sigmas[start] - last) / (first - last)) : 0.0;
    }
    return layout;
}

/// Pixel-steps at which a pixel is released under `mask` (strength >= tau(sigma_i), the policy's rule): the model work
/// an ideal tiling (one call per released pixel, no padding) would need.
std::int64_t released_pixel_steps(const host_tensor& map, const std::vector<double>& sigmas) {
    std::int64_t total = 0;
    const double first = sigmas.front(), last = sigmas.back();
    for (std::size_t i = 0; i + 1 < sigmas.size(); ++i) {
        const float tau = static_cast<float>((sigmas[i] - last) / (first - last));
        for (std::int64_t p = 0; p < map.numel(); ++p) total += map.data()[p] >= tau;
    }
    return total;
}

void measure(const options& o, std::ostream& table) {
    const app::rgb_image base = learned::crop(app::load_rgb(o.image), o.x, o.y, o.crop);
    app::learned_model model(o.model, "--model", 2);
    const blend::weight_kind weights = blend::weight_kind::smootherstep;
    std::ofstream csv = quadflow::bench::open_csv(
        o.csv,
        "scale,configuration,tiles,tile_pixels,untiled_tile_pixels,released_pixel_steps,psnr_db,"
        "psnr_outside_overlaps_db,max_abs,seam_tiled,seam_untiled,seconds\n");
    table
        << "| scale | configuration | tiles | tile-pixels | x untiled | per released px-step | PSNR to untiled (dB) | "
           "outside overlaps | max abs | seam contrast tiled / untiled | s |\n"
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    std::vector<row> rows;
    for (const std::int64_t scale : o.scales) {
        require(scale >= 1 && scale <= 8, "--scales", scale, "must be in [1, 8]");
        const std::int64_t side = o.crop * scale;
        const app::rgb_image image = app::resize(base, side, side, app::resize_filter::catmull_rom);
        const host_tensor original = app::to_latent(image, side, side);
        tile::quadtree_options q = app::img2img_settings::default_quadtree();
        q.overlap_pixels = 0;
        q.min_strength = 0.0;
        const tile::layout tree = tile::build_quadtree(image.view(), q);
        const host_tensor tree_map = policy::paint_strength_map(tree);
        double largest = 0.0;
        for (const tile::layout_tile& t : tree.tiles) largest = std::max(largest, t.strength);
        const std::vector<double> full = schedule::flux(o.steps, static_cast<int>(side), static_cast<int>(side));
        const std::vector<double> truncated =
            schedule::img2img_sigmas(full, largest, schedule::strength_rule::diffusers);
        const tile::layout whole = app::whole_canvas_tile(tree);
        const tile::layout grid =
            tile::build_grid(side, side, {.tile = o.grid_tile, .overlap_latent = o.grid_overlap, .latent_scale = 1});
        const tile::layout large_grid = tile::build_grid(
            side, side, {.tile = o.large_grid_tile, .overlap_latent = o.grid_overlap, .latent_scale = 1});
        const tile::layout model_tiles = tile::build_model_tiles(tree, tile::model_tile_options{});
        const host_tensor model_tile_map = policy::paint_strength_map(release_step_strengths(model_tiles, full));
        const host_tensor no_map;

        const auto untiled_one = learned::run(model, whole, original, policy::scale{}, truncated, no_map, weights);
        const auto untiled_mask = learned::run(model, whole, original, policy::mask{}, full, tree_map, weights);
        const auto untiled_model_map =
            learned::run(model, whole, original, policy::mask{}, full, model_tile_map, weights);
        struct configuration {
            std::string name;
            const tile::layout* layout;
            const learned::run_result* untiled;
            std::int64_t released;  ///< pixel-steps where a pixel takes the model's velocity
            learned::run_result tiled;
        };
        const std::int64_t every_pixel = side * side * static_cast<std::int64_t>(truncated.size() - 1);
        const std::int64_t mask_released = released_pixel_steps(tree_map, full);
        std::vector<configuration> configurations;
        configurations.push_back({"grid + strength " + std::to_string(static_cast<int>(100 * largest + 0.5)) + "%",
                                  &grid, &untiled_one, every_pixel,
                                  learned::run(model, grid, original, policy::scale{}, truncated, no_map, weights)});
        configurations.push_back({"grid + mask", &grid, &untiled_mask, mask_released,
                                  learned::run(model, grid, original, policy::mask{}, full, tree_map, weights)});
        configurations.push_back({"large grid + mask", &large_grid, &untiled_mask, mask_released,
                                  learned::run(model, large_grid, original, policy::mask{}, full, tree_map, weights)});
        configurations.push_back({"model tiles + mask", &model_tiles, &untiled_mask, mask_released,
                                  learned::run(model, model_tiles, original, policy::mask{}, full, tree_map, weights)});
        configurations.push_back(
            {"model tiles + strength", &model_tiles, &untiled_model_map, released_pixel_steps(model_tile_map, full),
             learned::run(model, model_tiles, original, policy::strength{}, full, no_map, weights)});
        for (const configuration& c : configurations) {
            row r;
            r.scale = scale;
            r.configuration = c.name;
            r.tiles = static_cast<std::int64_t>(c.layout->tiles.size());
            r.tile_pixels = c.tiled.tile_pixels;
            r.untiled_tile_pixels = c.untiled->tile_pixels;
            r.psnr = metrics::psnr(c.tiled.image.cview(), c.untiled->image.cview());
            r.psnr_single = psnr_outside_overlaps(c.tiled.image.cview(), c.untiled->image.cview(), *c.layout);
            r.released_pixel_steps = c.released;
            r.max_abs = learned::max_abs(c.tiled.image.cview(), c.untiled->image.cview());
            r.seam = metrics::seam_contrast(c.tiled.image.cview(), *c.layout);
            r.seam_untiled = metrics::seam_contrast(c.untiled->image.cview(), *c.layout);
            r.seconds = c.tiled.seconds;
            char line[512];
            std::snprintf(
                line, sizeof line,
                "| %lldx (%lld px) | %s | %lld | %lld | %.2f | %.2f | %.2f | %.2f | %.3f | %.3f / %.3f | %.1f |\n",
                static_cast<long long>(scale), static_cast<long long>(side), r.configuration.c_str(),
                static_cast<long long>(r.tiles), static_cast<long long>(r.tile_pixels),
                double(r.tile_pixels) / double(r.untiled_tile_pixels),
                double(r.tile_pixels) / double(r.released_pixel_steps), r.psnr, r.psnr_single, r.max_abs, r.seam,
                r.seam_untiled, r.seconds);
            table << line;
            table.flush();
            if (csv)
                csv << scale << ',' << r.configuration << ',' << r.tiles << ',' << r.tile_pixels << ','
                    << r.untiled_tile_pixels << ',' << r.released_pixel_steps << ',' << r.psnr << ',' << r.psnr_single
                    << ',' << r.max_abs << ',' << r.seam << ',' << r.seam_untiled << ',' << r.seconds << '\n';
            rows.push_back(r);
        }
    }
    table << "\ngoal: model tiles + mask within 0.5 dB of grid + mask with <= 0.7x its tile-pixels (at 2x and 4x)\n";
    for (const std::int64_t scale : o.scales)
        for (const std::string name : {"model tiles + mask", "model tiles + strength"}) {
            const row* grid = nullptr;
            const row* tiles = nullptr;
            for (const row& r : rows)
                if (r.scale == scale) {
                    if (r.configuration == "grid + mask") grid = &r;
                    if (r.configuration == name) tiles = &r;
                }
            const double work = double(tiles->tile_pixels) / double(grid->tile_pixels);
            const double gap = tiles->psnr - grid->psnr;
            char line[512];
            std::snprintf(line, sizeof line,
                          "  %lldx %-24s tile-pixels %.3f x grid + mask's, PSNR %+.2f dB against it (%.2f vs %.2f): "
                          "%s; tile-pixels per released pixel-step %.2f vs the grid's %.2f\n",
                          static_cast<long long>(scale), (name + ":").c_str(), work, gap, tiles->psnr, grid->psnr,
                          work <= 0.7 && gap >= -0.5 ? "met" : "not met",
                          double(tiles->tile_pixels) / double(tiles->released_pixel_steps),
                          double(grid->tile_pixels) / double(grid->released_pixel_steps));
            table << line;
        }
}

}  // namespace

int main(int argc, char** argv) {
    return learned::crop_measurement_main<options>(argc, argv,
                                                   "Model work against fidelity with the learned flow model (LibTorch)",
                                                   "Crop side at 1x, px", add_scale_flags, measure);
}
