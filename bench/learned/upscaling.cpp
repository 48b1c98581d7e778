// quadflow learned-model upscaling: held-out photos halved, upsampled again (bicubic), then img2img with the learned
// flow model (models/flow_unet.pt, LibTorch) untiled and tiled; PSNR and SSIM against the originals. Prints a
// markdown table, writes a CSV and a contact sheet.
//
//   learned_upscaling [--model models/flow_unet.pt] [--images bench/learned/data/coffee_256.png,...]
//                     [--strengths 0.2,0.3,0.4,0.5,0.6] [--steps 20] [--csv FILE] [--sheet FILE]
//                     [--sheet-strength 0.6]
//
// Per photo (pixel space, RGB in [-1, 1], latent scale 1): the original is halved (box filter) and brought back to
// its size with Catmull-Rom bicubic (app::resize); that is the "bicubic" row and the img2img input. At each strength
// the FLUX schedule of --steps steps is truncated there (diffusers' rule), every pixel takes the model's velocity
// (`scale`), noise torch.randn(42). The configurations, smootherstep weights unless named:
//   untiled             the whole canvas as one tile;
//   grid 64, overlap 0  tiles cut apart (uniform weights: without overlap the weights do not matter);
//   grid 64, overlap 8  the best trade of the tiling-fidelity table;
//   grid 32, overlap 8  small tiles;
//   model tiles         what `quadflow img2img --model M --strength-map S` runs: tile::build_model_tiles (64..128 px,
//                       overlap 8) of the app's quadtree of the input, every tile at strength 1 (`scale` reads the
//                       tile's strength; the one strength here is the schedule's truncation).
// Per row: PSNR (peak-to-peak 2) and SSIM (metrics::ssim) against the original, and PSNR to the untiled run.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "../program.hpp"
#include "learned_runs.hpp"
#include "quadflow/metrics/metrics.hpp"
#include "quadflow/policy/policies.hpp"
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
    std::string model = "models/flow_unet.pt", csv, sheet;
    std::vector<std::string> images{"bench/learned/data/coffee_256.png", "bench/learned/data/chelsea_256.png"};
    std::vector<double> strengths{0.2, 0.3, 0.4, 0.5, 0.6};
    double sheet_strength = 0.6;
    int steps = 20;
};

std::string fixed(double v, int digits) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
    return buffer;
}

void measure(const options& o, std::ostream& table) {
    app::learned_model model(o.model, "--model", 2);
    std::ofstream csv = quadflow::bench::open_csv(
        o.csv, "image,strength,configuration,psnr_db,ssim,psnr_to_untiled_db,tile_pixels,seconds\n");
    table
        << "| image | strength | configuration | PSNR to original (dB) | SSIM | PSNR to untiled (dB) | tile-pixels | s "
           "|\n|---|---:|---|---:|---:|---:|---:|---:|\n";
    std::vector<std::pair<app::rgb_image, std::vector<std::string>>> panels;
    for (const std::string& path : o.images) {
        const app::rgb_image photo = app::load_rgb(path);
        require(photo.width >= 64 && photo.height >= 64 && photo.width % 2 == 0 && photo.height % 2 == 0, "--images",
                path, "must be at least 64 x 64 px with even sides");
        const std::string name = std::filesystem::path(path).stem().string();
        const app::rgb_image low = app::resize(photo, photo.width / 2, photo.height / 2, app::resize_filter::box);
        const app::rgb_image bicubic = app::resize(low, photo.width, photo.height, app::resize_filter::catmull_rom);
        const host_tensor original = app::to_latent(photo, photo.width, photo.height);
        const host_tensor input = app::to_latent(bicubic, photo.width, photo.height);
        char line[512];
        const auto emit = [&](double strength, const std::string& configuration, const host_tensor& output,
                              const host_tensor* untiled, std::int64_t tile_pixels, double seconds) {
            const double p = metrics::psnr(output.cview(), original.cview());
            const double s = metrics::ssim(output.cview(), original.cview());
            const double gap = untiled ? metrics::psnr(output.cview(), untiled->cview()) : 0.0;
            std::snprintf(line, sizeof line, "| %s | %s | %s | %.2f | %.4f | %s | %lld | %.1f |\n", name.c_str(),
                          strength > 0 ? fixed(strength, 1).c_str() : "-", configuration.c_str(), p, s,
                          untiled ? fixed(gap, 2).c_str() : "-", static_cast<long long>(tile_pixels), seconds);
            table << line;
            table.flush();
            if (csv)
                csv << name << ',' << strength << ",\"" << configuration << "\"," << p << ',' << s << ','
                    << (untiled ? fixed(gap, 4) : "") << ',' << tile_pixels << ',' << seconds << '\n';
            return std::pair{p, s};
        };
        emit(0.0, "bicubic", input, nullptr, 0, 0.0);
        if (panels.empty()) {
            panels.push_back({photo, {"original", name}});
            const auto [p, s] = std::pair{metrics::psnr(input.cview(), original.cview()),
                                          metrics::ssim(input.cview(), original.cview())};
            panels.push_back({bicubic, {"bicubic x2", "PSNR " + fixed(p, 2) + " dB, SSIM " + fixed(s, 3)}});
        }

        tile::quadtree_options q = app::img2img_settings::default_quadtree();
        const tile::layout tree = tile::build_quadtree(bicubic.view(), q);
        tile::layout model_tiles = tile::build_model_tiles(tree, tile::model_tile_options{});
        for (tile::layout_tile& t : model_tiles.tiles) t.strength = 1.0;  // one strength: the schedule's truncation
        const tile::layout whole = app::whole_canvas_tile(tree);
        struct configuration {
            std::string name;
            tile::layout layout;
            blend::weight_kind weights;
        };
        const auto grid = [&](std::int64_t tile, std::int64_t overlap) {
            return tile::build_grid(photo.width, photo.height,
                                    {.tile = tile, .overlap_latent = overlap, .latent_scale = 1});
        };
        const std::vector<configuration> configurations = {
            {"grid 64, overlap 0", grid(64, 0), blend::weight_kind::uniform},
            {"grid 64, overlap 8", grid(64, 8), blend::weight_kind::smootherstep},
            {"grid 32, overlap 8", grid(32, 8), blend::weight_kind::smootherstep},
            {"model tiles (quadtree)", model_tiles, blend::weight_kind::smootherstep}};
        const std::vector<double> full =
            schedule::flux(o.steps, static_cast<int>(photo.width), static_cast<int>(photo.height));
        const host_tensor no_map;
        for (const double strength : o.strengths) {
            require(strength > 0.0 && strength <= 1.0, "--strengths", strength, "must be in (0, 1]");
            const std::vector<double> sigmas =
                schedule::img2img_sigmas(full, strength, schedule::strength_rule::diffusers);
            const bool for_sheet = panels.size() == 2 && std::abs(strength - o.sheet_strength) < 1e-9;
            const auto untiled =
                learned::run(model, whole, input, policy::scale{}, sigmas, no_map, blend::weight_kind::smootherstep);
            const auto [up, us] =
                emit(strength, "untiled", untiled.image, nullptr, untiled.tile_pixels, untiled.seconds);
            std::vector<std::pair<app::rgb_image, std::vector<std::string>>> row_panels;
            if (for_sheet)
                row_panels.push_back({app::to_image(untiled.image.cview()),
                                      {"untiled", "strength " + fixed(strength, 1) + ", PSNR " + fixed(up, 2) +
                                                      " dB, SSIM " + fixed(us, 3)}});
            for (const configuration& c : configurations) {
                const auto tiled = learned::run(model, c.layout, input, policy::scale{}, sigmas, no_map, c.weights);
                const auto [p, s] =
                    emit(strength, c.name, tiled.image, &untiled.image, tiled.tile_pixels, tiled.seconds);
                if (for_sheet && c.name != "grid 32, overlap 8")
                    row_panels.push_back(
                        {app::to_image(tiled.image.cview()),
                         {c.name, "PSNR " + fixed(p, 2) + " dB, SSIM " + fixed(s, 3),
                          "to untiled " + fixed(metrics::psnr(tiled.image.cview(), untiled.image.cview()), 2) +
                              " dB, seam contrast " +
                              fixed(metrics::seam_contrast(tiled.image.cview(), c.layout), 2)}});
            }
            for (auto& p : row_panels) panels.push_back(std::move(p));
        }
    }
    if (!o.sheet.empty() && panels.size() > 2) app::save_png(o.sheet, app::contact_sheet(panels, 3));
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    CLI::App app("The upscaling task with the learned flow model (LibTorch): bicubic, untiled, tiled");
    app.add_option("--model", o.model, "TorchScript flow model");
    app.add_option("--images", o.images, "Held-out photos (even sides)")->delimiter(',');
    app.add_option("--strengths", o.strengths, "img2img strengths, each in (0, 1]")->delimiter(',');
    app.add_option("--steps", o.steps, "Euler steps of the full schedule");
    app.add_option("--sheet", o.sheet, "Contact sheet PNG (first image, --sheet-strength)");
    app.add_option("--sheet-strength", o.sheet_strength, "Strength shown on the contact sheet");
    return quadflow::bench::run_measurement(
        app, o.csv, "CSV output", [&] { measure(o, std::cout); }, argc, argv);
}
