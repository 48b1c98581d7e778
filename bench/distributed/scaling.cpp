// quadflow distributed strong scaling: one img2img split over the MPI ranks of `mpirun -np N` against one process,
// measured in the same run, with a model that costs real time per tile pixel (the learned flow model through
// LibTorch when it is built in, else a compute-bound stand-in). Prints a markdown table, writes a CSV.
//
//   mpirun -np 2 distributed_scaling [--model models/flow_unet.pt] [--image apps/quadflow/data/astronaut.png]
//                                    [--crop 256] [--steps 8] [--repeats 3] [--csv FILE]
//
// Each configuration runs --repeats times: first rank 0 alone samples with the single-process field (the other
// ranks wait at a barrier, so rank 0 has a quiet core), then every rank samples with the distributed field. Every
// rank uses one model thread. Reported: the median single-process time, the median distributed time (the slowest
// rank's), their ratio (speedup), the balance of the ranks' model time and tile-pixels (max / mean), and the model
// output bytes each rank receives per step against one latent (C x H x W floats). The distributed canvas is checked
// against the single-process one, bit for bit.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "../learned/learned_runs.hpp"
#include "../program.hpp"
#include "quadflow/distributed/mpi.hpp"
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
    std::int64_t crop = 256;
    int steps = 8, repeats = 3;
};

/// A model that costs time per tile pixel and sees context: 24 passes of a 3 x 3 box blur over each tile, then the
/// flow velocity toward the blurred tile. Stands in for the learned model when LibTorch is not built in.
struct stand_in_model {
    prediction::kind prediction_kind() const { return prediction::kind::flow_velocity; }
    void operator()(const model::batch_request& r, mutable_view out) const {
        const shape4 s = r.x.shape();
        std::vector<float> a(static_cast<std::size_t>(s.h * s.w)), b(a.size());
        for (std::int64_t n = 0; n < s.n; ++n)
            for (std::int64_t c = 0; c < s.c; ++c) {
                for (std::int64_t i = 0; i < s.h * s.w; ++i)
                    a[static_cast<std::size_t>(i)] = r.x(n, c, i / s.w, i % s.w);
                for (int pass = 0; pass < 24; ++pass) {
                    for (std::int64_t y = 0; y < s.h; ++y)
                        for (std::int64_t x = 0; x < s.w; ++x) {
                            float sum = 0;
                            for (std::int64_t dy = -1; dy <= 1; ++dy)
                                for (std::int64_t dx = -1; dx <= 1; ++dx) {
                                    const std::int64_t yy = std::clamp(y + dy, std::int64_t{0}, s.h - 1);
                                    const std::int64_t xx = std::clamp(x + dx, std::int64_t{0}, s.w - 1);
                                    sum += a[static_cast<std::size_t>(yy * s.w + xx)];
                                }
                            b[static_cast<std::size_t>(y * s.w + x)] = sum / 9.0f;
                        }
                    std::swap(a, b);
                }
                for (std::int64_t i = 0; i < s.h * s.w; ++i)
                    out(n, c, i / s.w, i % s.w) = (r.x(n, c, i / s.w, i % s.w) - a[static_cast<std::size_t>(i)]) /
                                                  static_cast<float>(std::max(r.sigma, 1e-3));
            }
    }
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

template <class Model, class Policy>
void measure_configuration(const std::string& name, Model& model, const tile::layout& layout,
                           const host_tensor& original, const Policy& policy, const std::vector<double>& sigmas,
                           const host_tensor& map, const options& o, distributed::mpi_communicator& comm,
                           std::ostream& table, std::ofstream& csv) {
    const int rank = comm.rank(), ranks = comm.size();
    const auto exchange = distributed::make_exchange(comm);
    std::vector<double> single_times, distributed_times;
    learned::run_result single, split;
    for (int repeat = 0; repeat < o.repeats; ++repeat) {
        MPI_Barrier(MPI_COMM_WORLD);
        if (rank == 0) {
            single = learned::run(model, layout, original, policy, sigmas, map, blend::weight_kind::smootherstep);
            single_times.push_back(single.seconds);
        }
        MPI_Barrier(MPI_COMM_WORLD);
        split = learned::run(model, layout, original, policy, sigmas, map, blend::weight_kind::smootherstep, exchange);
        double slowest = 0;
        MPI_Allreduce(&split.seconds, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        distributed_times.push_back(slowest);
    }
    // Per rank: model seconds of the last repeat, tile-pixels, bytes received.
    const double mine[3] = {split.model_seconds, double(split.tile_pixels), double(split.bytes_received)};
    std::vector<double> all(3 * static_cast<std::size_t>(ranks));
    MPI_Gather(mine, 3, MPI_DOUBLE, all.data(), 3, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    int same = 1;
    if (rank == 0)
        same = std::memcmp(single.image.data(), split.image.data(),
                           static_cast<std::size_t>(single.image.numel()) * sizeof(float)) == 0;
    if (rank != 0) return;
    const auto balance = [&](int field) {
        double largest = 0, sum = 0;
        for (int r = 0; r < ranks; ++r) {
            largest = std::max(largest, all[static_cast<std::size_t>(3 * r + field)]);
            sum += all[static_cast<std::size_t>(3 * r + field)];
        }
        return largest / (sum / ranks);
    };
    double received = 0;
    for (int r = 0; r < ranks; ++r) received = std::max(received, all[static_cast<std::size_t>(3 * r + 2)]);
    const double latent_bytes = double(original.numel()) * sizeof(float);
    const double per_step = received / double(sigmas.size() - 1);
    const double t1 = median(single_times), tn = median(distributed_times);
    char line[512];
    std::snprintf(line, sizeof line, "| %s | %zu | %d | %.2f | %.2f | **%.2fx** | %.3f | %.3f | %.2f | %s |\n",
                  name.c_str(), layout.tiles.size(), ranks, t1, tn, t1 / tn, balance(0), balance(1),
                  per_step / latent_bytes, same ? "yes" : "NO");
    table << line;
    table.flush();
    if (csv)
        csv << name << ',' << layout.tiles.size() << ',' << ranks << ',' << t1 << ',' << tn << ',' << t1 / tn << ','
            << balance(0) << ',' << balance(1) << ',' << per_step / latent_bytes << ',' << same << '\n';
}

template <class Model>
void measure_all(Model& model, const std::string& model_name, const options& o, distributed::mpi_communicator& comm) {
    const app::rgb_image photo = app::load_rgb(o.image);
    const app::rgb_image image = learned::crop(photo, (photo.width - o.crop) / 2, (photo.height - o.crop) / 2, o.crop);
    const host_tensor original = app::to_latent(image, o.crop, o.crop);
    tile::quadtree_options q = app::img2img_settings::default_quadtree();
    q.overlap_pixels = 0;
    q.min_strength = 0.0;
    const tile::layout tree = tile::build_quadtree(image.view(), q);
    const host_tensor map = policy::paint_strength_map(tree);
    const tile::layout model_tiles = tile::build_model_tiles(tree, tile::model_tile_options{});
    const tile::layout grid = tile::build_grid(o.crop, o.crop, {.tile = 64, .overlap_latent = 8, .latent_scale = 1});
    const std::vector<double> full = schedule::flux(o.steps, static_cast<int>(o.crop), static_cast<int>(o.crop));
    const std::vector<double> half = schedule::img2img_sigmas(full, 0.5, schedule::strength_rule::diffusers);
    std::ofstream csv;
    std::ostream& table = std::cout;
    if (comm.rank() == 0) {
        csv = quadflow::bench::open_csv(
            o.csv,
            "configuration,tiles,ranks,single_s,distributed_s,speedup,model_time_balance,tile_pixel_balance,"
            "received_per_step_latents,bit_identical\n");
        table << "model: " << model_name << ", " << o.crop << " x " << o.crop << " px, " << o.steps
              << " Euler steps, median of " << o.repeats << "\n\n"
              << "| configuration | tiles | ranks | 1 process (s) | distributed (s) | speedup | model time max/mean "
                 "| tile-pixels max/mean | received per step (latents) | bit-identical |\n"
                 "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
    }
    const host_tensor no_map;
    measure_configuration("quadtree: model tiles + mask", model, model_tiles, original, policy::mask{}, full, map, o,
                          comm, table, csv);
    measure_configuration("grid 64/8, strength 0.5", model, grid, original, policy::scale{}, half, no_map, o, comm,
                          table, csv);
}

}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    options o;
    CLI::App app("Strong scaling of the distributed field over MPI ranks, against one process");
    app.add_option("--model", o.model, "TorchScript flow model (used when LibTorch is built in)");
    app.add_option("--image", o.image, "Photo (its centre is cropped)");
    app.add_option("--crop", o.crop, "Crop side, px");
    app.add_option("--steps", o.steps, "Euler steps");
    app.add_option("--repeats", o.repeats, "Repeats (the median is reported)");
    const int code = quadflow::bench::run_measurement(
        app, o.csv, "CSV output (rank 0)",
        [&] {
            distributed::mpi_communicator comm(MPI_COMM_WORLD);
            if (app::learned_model::available()) {
                app::learned_model model(o.model, "--model", 1);
                measure_all(model, "learned flow model (" + o.model + ", LibTorch, 1 thread per rank)", o, comm);
            } else {
                stand_in_model model;
                measure_all(model, "compute-bound stand-in (24 box-blur passes per tile)", o, comm);
            }
        },
        argc, argv);
    MPI_Finalize();
    return code;
}
