// quadflow distributed simulation: one 4x FLUX upscale to a 16384 x 16384 image spread over 1..256 GPUs, with
// the batches planned by the library's own field::batch_plan and split by field::assign_to_ranks, timed with a
// published FLUX.1-dev time per 1024 x 1024 image and step on an H100 and a ring all-gather model of NVLink and of
// 100 Gb/s Ethernet. Prints markdown tables and writes CSV (--csv).
//
//   simulate [--tile-seconds 0.2393] [--steps 28] [--batch-sizes 1,4] [--ranks 1,2,4,...,256]
//            [--nvlink-gb-per-s 360] [--ethernet-gb-per-s 10] [--csv FILE]
//
// Canvas: 16384 x 16384 px = 2048 x 2048 latent px (latent scale 8, 16 channels), tile::build_grid with tiles of
// 128 latent px (the model sees 1024 x 1024 px, the size the per-tile time was measured at) overlapping by 8.
// Every tile needs the model at every step, so every step is the same and is simulated once:
//   batches   batch_plan(layout, 16, tile batch size, unbounded_arena).plan(every tile);
//   owners    assign_to_ranks(tile-pixels of each batch, P), the costs tiled_field's call_models_distributed uses;
//   compute   the most tiles any rank runs x the per-tile time (a batch of n tiles takes n tile times: no speed-up
//             from batching is assumed);
//   exchange  the field's two all-gathers per step, the status words (sizeof(field::rank_status) bytes a rank) and
//             the model outputs (float32, channels x padded h x padded w a tile), each a ring:
//             base latency + (P - 1) x hop latency + (P - 1) / P x bytes / bus bandwidth (0 for P = 1);
//   step      compute + exchange: the two do not overlap.
// Load balance is the busiest rank's tile-pixels over the mean over all P ranks (idle ones included). The scaling
// limit is the largest P of --ranks up to which every step of the list cut the step time by at least 10% with the
// exchange at most 50% of the step. Ranks past the number of batches idle: the fastest step is at that rank count.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "../program.hpp"
#include "quadflow/field/batch_exchange.hpp"
#include "quadflow/field/batch_plan.hpp"
#include "quadflow/tile/grid.hpp"

namespace {

using namespace quadflow;

constexpr std::int64_t image_side_px = 16384;
constexpr int latent_scale = 8;
constexpr std::int64_t latent_channels = 16;
constexpr std::int64_t model_tile_latent_px = 128;
constexpr std::int64_t tile_overlap_latent_px = 8;

// FLUX.1-dev, bf16, diffusers FluxPipeline at its default 1024 x 1024, 28 steps: 6.7 s an image on an H100
// (pytorch.org/blog/torch-compile-and-diffusers-a-hands-on-guide-to-peak-performance), divided by 28 steps.
constexpr double flux_dev_h100_seconds_per_tile_step = 6.7 / 28.0;

// NCCL's ring latency model (src/graph/tuning.cc): base 8.4 us (Ring/Simple), per ring step 3.4 us over NVLink and
// 9.6 us over the network.
constexpr double ring_base_latency_s = 8.4e-6;
constexpr double nvlink_hop_latency_s = 3.4e-6;
constexpr double network_hop_latency_s = 9.6e-6;

struct interconnect {
    std::string name;
    double bus_bytes_per_s = 0;
    double hop_latency_s = 0;
};

/// Seconds of one ring all-gather of `total_bytes` (the sum over ranks) among `ranks` ranks.
double ring_all_gather_seconds(const interconnect& link, int ranks, double total_bytes) {
    if (ranks == 1) return 0.0;
    return ring_base_latency_s + (ranks - 1) * link.hop_latency_s +
           (ranks - 1.0) / ranks * total_bytes / link.bus_bytes_per_s;
}

/// One step's batches, as the distributed field plans them.
struct step_batches {
    std::vector<std::int64_t> tile_pixels;  ///< per batch: the cost assign_to_ranks gets
    std::vector<std::int64_t> tiles;        ///< per batch
    std::int64_t output_bytes = 0;          ///< every batch's model outputs, float32
};

step_batches plan_step(const tile::layout& layout, int tile_batch_size) {
    field::batch_plan plan(layout, latent_channels, tile_batch_size, field::batch_plan::unbounded_arena);
    plan.plan([](std::size_t) { return true; });
    step_batches step;
    for (const field::batch_plan::batch& b : plan.batches()) {
        const field::shape_batch& group = plan.groups()[static_cast<std::size_t>(b.group)];
        const std::int64_t pixels = b.count * group.width * group.height;
        step.tile_pixels.push_back(pixels);
        step.tiles.push_back(b.count);
        step.output_bytes += pixels * latent_channels * std::int64_t{sizeof(float)};
    }
    return step;
}

/// How one step's batches fall on `ranks` ranks.
struct rank_split {
    int ranks = 1;
    std::int64_t busy_ranks = 0;
    std::int64_t most_tiles = 0;  ///< on the busiest rank
    double load_balance = 1.0;    ///< the busiest rank's tile-pixels / the mean over all ranks
};

rank_split split_over_ranks(const step_batches& step, int ranks) {
    const std::vector<int> owner = field::assign_to_ranks(step.tile_pixels, ranks);
    std::vector<std::int64_t> pixels(static_cast<std::size_t>(ranks), 0), tiles(pixels.size(), 0);
    for (std::size_t b = 0; b < owner.size(); ++b) {
        pixels[static_cast<std::size_t>(owner[b])] += step.tile_pixels[b];
        tiles[static_cast<std::size_t>(owner[b])] += step.tiles[b];
    }
    const double mean = static_cast<double>(std::accumulate(pixels.begin(), pixels.end(), std::int64_t{0})) / ranks;
    return {ranks, std::count_if(pixels.begin(), pixels.end(), [](std::int64_t p) { return p > 0; }),
            *std::max_element(tiles.begin(), tiles.end()),
            static_cast<double>(*std::max_element(pixels.begin(), pixels.end())) / mean};
}

struct step_time {
    double compute_s = 0, exchange_s = 0;
    double step_s() const { return compute_s + exchange_s; }
    double exchange_share() const { return exchange_s / step_s(); }
};

step_time time_step(const step_batches& step, const rank_split& split, const interconnect& link, double tile_seconds) {
    const double status_bytes = static_cast<double>(split.ranks) * sizeof(field::rank_status);
    return {static_cast<double>(split.most_tiles) * tile_seconds,
            ring_all_gather_seconds(link, split.ranks, status_bytes) +
                ring_all_gather_seconds(link, split.ranks, static_cast<double>(step.output_bytes))};
}

/// The largest of `ranks` up to which every step of the list cut the step time by >= 10% with the exchange at
/// most half the step.
int scaling_limit(const std::vector<int>& ranks, const std::vector<step_time>& times) {
    std::size_t last = 0;
    while (last + 1 < ranks.size() && times[last + 1].step_s() <= 0.9 * times[last].step_s() &&
           times[last + 1].exchange_share() <= 0.5)
        ++last;
    return ranks[last];
}

struct simulation_flags {
    double tile_seconds = flux_dev_h100_seconds_per_tile_step;
    int steps = 28;
    std::vector<int> batch_sizes{1, 4};
    std::vector<int> ranks{1, 2, 4, 8, 16, 32, 64, 128, 256};
    double nvlink_gb_per_s = 360.0;   // NCCL all_gather busbw on 8 H100s (NVIDIA/nccl-tests#326)
    double ethernet_gb_per_s = 10.0;  // 100 Gb/s = 12.5 GB/s at 80% efficiency
    std::string csv;
};

void simulate(const simulation_flags& flags) {
    std::string rank_list;
    for (const int ranks : flags.ranks) rank_list += (rank_list.empty() ? "" : ",") + std::to_string(ranks);
    require(!flags.ranks.empty() && flags.ranks.front() >= 1 &&
                std::is_sorted(flags.ranks.begin(), flags.ranks.end()) &&
                std::adjacent_find(flags.ranks.begin(), flags.ranks.end()) == flags.ranks.end(),
            "ranks", rank_list, "must be a strictly increasing list of counts >= 1");
    for (const int batch_size : flags.batch_sizes) require(batch_size >= 1, "batch-sizes", batch_size, "must be >= 1");
    require(flags.tile_seconds > 0, "tile-seconds", flags.tile_seconds, "must be > 0");
    require(flags.steps >= 1, "steps", flags.steps, "must be >= 1");
    require(flags.nvlink_gb_per_s > 0, "nvlink-gb-per-s", flags.nvlink_gb_per_s, "must be > 0");
    require(flags.ethernet_gb_per_s > 0, "ethernet-gb-per-s", flags.ethernet_gb_per_s, "must be > 0");
    const std::vector<interconnect> links{
        {"NVLink", flags.nvlink_gb_per_s * 1e9, nvlink_hop_latency_s},
        {"100GbE", flags.ethernet_gb_per_s * 1e9, network_hop_latency_s},
    };
    const std::int64_t latent_side = image_side_px / latent_scale;
    const tile::layout layout = tile::build_grid(
        latent_side, latent_side,
        {.tile = model_tile_latent_px, .overlap_latent = tile_overlap_latent_px, .latent_scale = latent_scale});
    const double one_gpu_step_s = static_cast<double>(layout.tiles.size()) * flags.tile_seconds;

    std::printf("# Distributed FLUX upscale to %lld x %lld px, simulated\n\n", static_cast<long long>(image_side_px),
                static_cast<long long>(image_side_px));
    const std::int64_t model_tile_px = model_tile_latent_px * latent_scale;
    std::printf(
        "- Canvas: %lld x %lld latent px, %lld channels; grid of %zu tiles of %lld x %lld latent px "
        "(%lld x %lld px), overlap %lld.\n",
        static_cast<long long>(latent_side), static_cast<long long>(latent_side),
        static_cast<long long>(latent_channels), layout.tiles.size(), static_cast<long long>(model_tile_latent_px),
        static_cast<long long>(model_tile_latent_px), static_cast<long long>(model_tile_px),
        static_cast<long long>(model_tile_px), static_cast<long long>(tile_overlap_latent_px));
    std::printf("- Model: %.4f s per tile and step; %d steps; one GPU: %.1f s a step, %.1f min a run.\n",
                flags.tile_seconds, flags.steps, one_gpu_step_s, one_gpu_step_s * flags.steps / 60.0);
    for (const interconnect& link : links)
        std::printf("- %s: all-gather bus bandwidth %.1f GB/s, ring latency %.1f us + %.1f us per rank.\n",
                    link.name.c_str(), link.bus_bytes_per_s / 1e9, ring_base_latency_s * 1e6, link.hop_latency_s * 1e6);

    std::ofstream csv;
    if (!flags.csv.empty()) {
        csv.open(flags.csv);
        require(csv.good(), "csv", flags.csv, "cannot be written");
        csv << "tile_batch_size,interconnect,ranks,busy_ranks,batches,most_tiles_per_rank,load_balance,"
               "exchange_bytes,compute_s,exchange_s,step_s,run_s,speedup,exchange_share\n";
    }

    for (const int batch_size : flags.batch_sizes) {
        const step_batches step = plan_step(layout, batch_size);
        std::vector<rank_split> splits;
        for (const int ranks : flags.ranks) splits.push_back(split_over_ranks(step, ranks));
        std::vector<std::vector<step_time>> times(links.size());
        for (std::size_t l = 0; l < links.size(); ++l)
            for (const rank_split& split : splits)
                times[l].push_back(time_step(step, split, links[l], flags.tile_seconds));

        std::printf("\n## Tile batch size %d: %zu batches a step, %.1f MiB of model outputs to all-gather\n\n",
                    batch_size, step.tiles.size(), static_cast<double>(step.output_bytes) / (1 << 20));
        std::printf("| GPUs | busy | tiles on the busiest | load balance |");
        for (const interconnect& link : links) std::printf(" %s step (s) | speedup | exchange |", link.name.c_str());
        std::printf("\n|---:|---:|---:|---:|");
        for (std::size_t l = 0; l < links.size(); ++l) std::printf("---:|---:|---:|");
        std::printf("\n");
        for (std::size_t r = 0; r < splits.size(); ++r) {
            const rank_split& split = splits[r];
            std::printf("| %d | %lld | %lld | %.2f |", split.ranks, static_cast<long long>(split.busy_ranks),
                        static_cast<long long>(split.most_tiles), split.load_balance);
            for (std::size_t l = 0; l < links.size(); ++l) {
                const step_time& t = times[l][r];
                const double speedup = one_gpu_step_s / t.step_s();
                std::printf(" %.3f | %.1fx | %.2f%% |", t.step_s(), speedup, 100.0 * t.exchange_share());
                if (csv.is_open())
                    csv << batch_size << ',' << links[l].name << ',' << split.ranks << ',' << split.busy_ranks << ','
                        << step.tiles.size() << ',' << split.most_tiles << ',' << split.load_balance << ','
                        << step.output_bytes << ',' << t.compute_s << ',' << t.exchange_s << ',' << t.step_s() << ','
                        << t.step_s() * flags.steps << ',' << speedup << ',' << t.exchange_share() << '\n';
            }
            std::printf("\n");
        }

        const auto batches = static_cast<int>(step.tiles.size());
        const rank_split one_batch_each = split_over_ranks(step, batches);
        std::printf("\n");
        for (std::size_t l = 0; l < links.size(); ++l) {
            const step_time fastest = time_step(step, one_batch_each, links[l], flags.tile_seconds);
            const int limit = scaling_limit(flags.ranks, times[l]);
            std::printf(
                "- %s: scaling limit %d GPUs%s. At %d GPUs every rank has one batch and ranks past it idle: "
                "the fastest step, %.3f s (exchange %.2f%%), a run of %.1f s.\n",
                links[l].name.c_str(), limit,
                limit == flags.ranks.back() ? " (still scaling at the largest count simulated)" : "", batches,
                fastest.step_s(), 100.0 * fastest.exchange_share(), fastest.step_s() * flags.steps);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    simulation_flags flags;
    CLI::App app{"quadflow distributed simulation: a 16384 x 16384 FLUX upscale over many GPUs"};
    app.option_defaults()->always_capture_default();
    app.add_option("--tile-seconds", flags.tile_seconds, "Model time per tile and step, s");
    app.add_option("--steps", flags.steps, "Denoising steps");
    app.add_option("--batch-sizes", flags.batch_sizes, "Tile batch sizes to simulate")->delimiter(',');
    app.add_option("--ranks", flags.ranks, "GPU counts to simulate, increasing")->delimiter(',');
    app.add_option("--nvlink-gb-per-s", flags.nvlink_gb_per_s, "NVLink all-gather bus bandwidth, GB/s");
    app.add_option("--ethernet-gb-per-s", flags.ethernet_gb_per_s, "Ethernet all-gather bus bandwidth, GB/s");
    return quadflow::bench::run_measurement(
        app, flags.csv, "Write every row as CSV here", [&] { simulate(flags); }, argc, argv);
}
