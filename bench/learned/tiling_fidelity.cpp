// quadflow learned-model tiling fidelity: the same learned flow model (models/flow_unet.pt, LibTorch), noise and
// strength, tiled against untiled, over overlap, blend weights and tile size. Prints a markdown table and writes a
// CSV.
//
//   learned_tiling_fidelity [--model models/flow_unet.pt] [--image apps/quadflow/data/astronaut.png] [--crop 192]
//                           [--x 160] [--y 96] [--steps 8] [--strength 0.5] [--tiles 32,48,64]
//                           [--overlaps 0,4,8,16,32] [--weights uniform,gaussian,smootherstep] [--csv FILE]
//
// Pixel space (latent scale 1): the crop is the "latent", RGB in [-1, 1]. Two strength modes, each against its own
// untiled run (the whole crop as one tile, same policy, same per-pixel strength):
//   uniform   every pixel at --strength: the FLUX schedule truncated at that strength (diffusers' rule), the
//             model's velocity everywhere;
//   quadtree  the per-pixel strength the quadtree (seed settings, min 0, max 0.8) paints, `mask` policy on the
//             full schedule.
// The grid spreads its tiles evenly over the crop, so the real overlap (in parentheses) is at least the requested one.
// Per configuration: PSNR (peak-to-peak 2) and max |tiled - untiled|; seam contrast on the grid's borders for the
// tiled run and for the untiled run on the same lines (metrics::seam_contrast); tile-pixels (model work); seconds.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
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
#include "quadflow/tile/quadtree.hpp"
#include "quadflow_app/image_io.hpp"
#include "quadflow_app/img2img_pipeline.hpp"
#include "quadflow_app/learned_model.hpp"

namespace {

using namespace quadflow;
namespace learned = quadflow::bench::learned;

struct options {
    std::string model = "models/flow_unet.pt", image = "apps/quadflow/data/astronaut.png", csv;
    std::int64_t crop = 192, x = 160, y = 96;
    int steps = 8;
    double strength = 0.5;
    std::vector<std::int64_t> tiles{32, 48, 64}, overlaps{0, 4, 8, 16, 32};
    std::vector<std::string> weights{"uniform", "gaussian", "smootherstep"};
};

/// The sweep: strength, tile sides, overlaps and blend weights.
void add_sweep_flags(CLI::App& app, options& o) {
    app.add_option("--strength", o.strength, "Uniform strength");
    app.add_option("--tiles", o.tiles, "Tile sides, px")->delimiter(',');
    app.add_option("--overlaps", o.overlaps, "Overlaps, px")->delimiter(',');
    app.add_option("--weights", o.weights, "Blend weights")->delimiter(',');
}

using learned::max_abs;
using learned::real_overlap;
using learned::run;
using result = learned::run_result;

void measure(const options& o, std::ostream& table) {
    const app::rgb_image crop = learned::crop(app::load_rgb(o.image), o.x, o.y, o.crop);
    const host_tensor original = app::to_latent(crop, o.crop, o.crop);
    app::learned_model model(o.model, "--model", 2);

    tile::quadtree_options q = app::img2img_settings::default_quadtree();
    q.overlap_pixels = 0;
    q.min_strength = 0.0;
    const tile::layout tree = tile::build_quadtree(crop.view(), q);
    const host_tensor tree_map = policy::paint_strength_map(tree);
    const std::vector<double> full = schedule::flux(o.steps, static_cast<int>(o.crop), static_cast<int>(o.crop));
    const std::vector<double> truncated =
        schedule::img2img_sigmas(full, o.strength, schedule::strength_rule::diffusers);
    const tile::layout whole = app::whole_canvas_tile(tree);

    std::ofstream csv = quadflow::bench::open_csv(
        o.csv,
        "strength,tile,overlap,real_overlap,weights,psnr_db,max_abs,seam_tiled,seam_untiled,tile_pixels,"
        "seconds\n");
    table << "| strength | tile | overlap (real) | weights | PSNR to untiled (dB) | max abs | seam contrast tiled / "
             "untiled "
             "| tile-pixels | s |\n|---|---:|---:|---|---:|---:|---:|---:|---:|\n";
    for (const std::string mode : {"uniform", "quadtree"}) {
        const bool uniform = mode == "uniform";
        const std::vector<double>& sigmas = uniform ? truncated : full;
        const host_tensor no_map;
        const auto untiled =
            uniform ? run(model, whole, original, policy::scale{}, sigmas, no_map, blend::weight_kind::uniform)
                    : run(model, whole, original, policy::mask{}, sigmas, tree_map, blend::weight_kind::uniform);
        char line[512];
        std::snprintf(line, sizeof line, "| %s | untiled | - | - | - | - | - | %lld | %.1f |\n", mode.c_str(),
                      static_cast<long long>(untiled.tile_pixels), untiled.seconds);
        table << line;
        for (std::int64_t tile_side : o.tiles)
            for (std::int64_t overlap : o.overlaps)
                for (const std::string& w : o.weights) {
                    if (2 * overlap >= tile_side) continue;
                    const blend::weight_kind kind = blend::parse_weight_kind(w);
                    const tile::layout grid = tile::build_grid(
                        o.crop, o.crop, {.tile = tile_side, .overlap_latent = overlap, .latent_scale = 1});
                    const result tiled = uniform ? run(model, grid, original, policy::scale{}, sigmas, no_map, kind)
                                                 : run(model, grid, original, policy::mask{}, sigmas, tree_map, kind);
                    const double p = metrics::psnr(tiled.image.cview(), untiled.image.cview());
                    const double m = max_abs(tiled.image.cview(), untiled.image.cview());
                    const double seam = metrics::seam_contrast(tiled.image.cview(), grid);
                    const double seam_ref = metrics::seam_contrast(untiled.image.cview(), grid);
                    const std::int64_t real = real_overlap(grid);
                    std::snprintf(line, sizeof line,
                                  "| %s | %lld | %lld (%lld) | %s | %.2f | %.3f | %.3f / %.3f | %lld | %.1f |\n",
                                  mode.c_str(), static_cast<long long>(tile_side), static_cast<long long>(overlap),
                                  static_cast<long long>(real), w.c_str(), p, m, seam, seam_ref,
                                  static_cast<long long>(tiled.tile_pixels), tiled.seconds);
                    table << line;
                    table.flush();
                    if (csv)
                        csv << mode << ',' << tile_side << ',' << overlap << ',' << real << ',' << w << ',' << p << ','
                            << m << ',' << seam << ',' << seam_ref << ',' << tiled.tile_pixels << ',' << tiled.seconds
                            << '\n';
                }
    }
    // The field's own share of the sampling time (gather, blend, Euler) at the default configuration, median of 5.
    const tile::layout grid = tile::build_grid(o.crop, o.crop, {.tile = 64, .overlap_latent = 8, .latent_scale = 1});
    std::vector<double> shares;
    double model_s = 0, total_s = 0;
    for (int repeat = 0; repeat < 5; ++repeat) {
        const result r = run(model, grid, original, policy::mask{}, full, tree_map, blend::weight_kind::smootherstep);
        shares.push_back(1.0 - r.model_seconds / r.seconds);
        model_s += r.model_seconds;
        total_s += r.seconds;
    }
    std::sort(shares.begin(), shares.end());
    char line[256];
    std::snprintf(
        line, sizeof line,
        "\ntime, 64 px tiles, overlap 8, smootherstep, quadtree strength (mask): the field's own share of the "
        "sampling time (gather, blend, Euler) is %.2f%% (median of 5; min %.2f%%, max %.2f%%; model %.2f s "
        "of %.2f s in all)\n",
        100.0 * shares[2], 100.0 * shares.front(), 100.0 * shares.back(), model_s, total_s);
    table << line;
}

}  // namespace

int main(int argc, char** argv) {
    return learned::crop_measurement_main<options>(argc, argv,
                                                   "Tiled against untiled with the learned flow model (LibTorch)",
                                                   "Crop side, px", add_sweep_flags, measure);
}
