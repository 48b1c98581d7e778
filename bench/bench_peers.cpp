// quadflow peer benchmark: the C++ side of bench/peers/run_peers.py, which runs the same work in PyTorch.
//
//   bench_peers blend --layout FILE --rectangles cores|padded [--overlap PX] [--latent-scale S] [--channels C]
//                     [--threads T] [--tile-batch B] [--evaluations N] [--warmup N] [--seed S] [--velocity-out FILE]
//   bench_peers noise --seed S --shape N,C,H,W [--evaluations N] [--warmup N] [--values-out FILE]
//
// `blend` reads a layout written by `quadflow quadtree --json` (tile cores in image pixels; each core grows by
// the seed system's overlap rule, as tile::build_quadtree does) or by `quadflow grid` (the real, padded tiles),
// every tile at strength 1, and times one evaluation of field::tiled_field on a 1 x C x H x W latent with a model
// that returns at once: gather of the padded tiles (mirror reflection outside the canvas), Gaussian weights
// (Mixture of Diffusers, variance 0.01), accumulation and normalisation. It also times a memcpy of one latent,
// the baseline of bench_field, and a memcpy of as many bytes as the blend must move (least_bytes). With --velocity-out it writes, as raw little-endian float32, the blended velocity
// of one evaluation on x = torch.randn(seed) with a check model whose output differs per tile
// (out = a(id) * in + b(id), see check_model), so that the PyTorch side can compare element by element.
//
// `noise` times quadflow::noise::torch_randn(seed, shape) and with --values-out writes the values (raw float32).
//
// Each command prints one JSON object on stdout: the time of every timed evaluation and their median, in ms.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "command_flags.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/noise/torch_randn.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/tile/layout.hpp"
#include "quadflow/tile/quadtree.hpp"

namespace {

using namespace quadflow;
using steady = std::chrono::steady_clock;

std::string read_text(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw io_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void write_floats(const std::string& path, std::span<const float> values) {
    std::ofstream file(path, std::ios::binary);
    file.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size_bytes()));
    if (!file) throw io_error("cannot write " + path);
}

/// The integer after `"key":` in `text`, searching from `from` up to `until`.
std::int64_t json_integer(const std::string& text, const std::string& key, std::size_t from, std::size_t until) {
    const std::string quoted = "\"" + key + "\"";
    const std::size_t at = text.find(quoted, from);
    if (at == std::string::npos || at >= until) throw io_error("layout JSON: no \"" + key + "\" where expected");
    const std::size_t colon = text.find(':', at + quoted.size());
    return std::stoll(text.substr(colon + 1, 32));
}

/// A layout from the JSON of `quadflow quadtree --json` (rectangles = cores) or `quadflow grid` (rectangles =
/// padded): {"width", "height", "tiles": [{"x", "y", "w", "h", "denoise"}, ...]} in image pixels. Cores grow by
/// min(core_w / 2, core_h / 2, overlap) latent px per side with the overlap clamped as the quadtree clamps it;
/// grid tiles are their own cores. Every tile gets strength 1: tiled-diffusion peers have no per-tile strength.
tile::layout read_layout(const std::string& path, const std::string& rectangles, std::int64_t overlap_px, int scale) {
    require(rectangles == "cores" || rectangles == "padded", "--rectangles", rectangles, "must be cores|padded");
    require(scale > 0, "--latent-scale", scale, "must be > 0");
    const std::string text = read_text(path);
    const std::size_t tiles_at = text.find("\"tiles\"");
    if (tiles_at == std::string::npos) throw io_error(path + ": no \"tiles\" array");
    tile::layout layout;
    layout.latent_scale = scale;
    layout.width = json_integer(text, "width", 0, tiles_at) / scale;
    layout.height = json_integer(text, "height", 0, tiles_at) / scale;
    const std::int64_t overlap =
        tile::clamped_overlap_latent(overlap_px, scale, layout.width, layout.height);
    for (std::size_t open = text.find('{', tiles_at); open != std::string::npos; open = text.find('{', open + 1)) {
        const std::size_t close = text.find('}', open);
        auto value = [&](const char* key) { return json_integer(text, key, open, close) / scale; };
        const rect r{value("x"), value("y"), value("w"), value("h")};
        tile::tile t;
        t.core = r;
        t.padded = r;
        if (rectangles == "cores") {
            const std::int64_t o = tile::tile_overlap(r, overlap);
            t.padded = {r.x - o, r.y - o, r.w + 2 * o, r.h + 2 * o};
        }
        t.pixel_core = {t.core.x * scale, t.core.y * scale, t.core.w * scale, t.core.h * scale};
        t.denoise = 1.0;
        t.id = static_cast<std::int64_t>(layout.tiles.size());
        layout.tiles.push_back(t);
    }
    tile::validate(layout);
    return layout;
}

/// Returns at once, its output left as it is: the field's own cost alone (as in bench_field).
struct instant_model {
    prediction::kind prediction_kind() const { return prediction::kind::flow_velocity; }
    void operator()(const model::batch_request&, mutable_view) const {}
};

/// out = a(id) * in + b(id) with a = 1 + 0.01 (id mod 7), b = 0.1 (id mod 5) - 0.2: a tile-dependent output, so
/// that a wrong weight, rectangle or reflection shows in the blend. run_peers.py applies the same formula.
struct check_model {
    prediction::kind prediction_kind() const { return prediction::kind::flow_velocity; }
    void operator()(const model::batch_request& request, mutable_view out) const {
        const shape4 s = request.x.shape();
        const std::int64_t per_tile = s.c * s.h * s.w;
        for (std::int64_t n = 0; n < s.n; ++n) {
            const std::int64_t id = request.tiles[static_cast<std::size_t>(n)].id;
            const float a = 1.0f + 0.01f * static_cast<float>(id % 7);
            const float b = 0.1f * static_cast<float>(id % 5) - 0.2f;
            const float* in = request.x.data() + n * per_tile;
            float* o = out.data() + n * per_tile;
            for (std::int64_t i = 0; i < per_tile; ++i) o[i] = a * in[i] + b;
        }
    }
};

double milliseconds_since(steady::time_point start) {
    return std::chrono::duration<double, std::milli>(steady::now() - start).count();
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

std::string json_list(const std::vector<double>& values) {
    std::ostringstream out;
    out.precision(6);
    out << "[";
    for (std::size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << values[i];
    out << "]";
    return out.str();
}

template <class Work>
std::vector<double> time_each(int warmup, int evaluations, Work work) {
    for (int i = 0; i < warmup; ++i) work();
    std::vector<double> times;
    times.reserve(static_cast<std::size_t>(evaluations));
    for (int i = 0; i < evaluations; ++i) {
        const auto start = steady::now();
        work();
        times.push_back(milliseconds_since(start));
    }
    return times;
}

int run_blend(int argc, char** argv) {
    const bench::command_flags flags(argc, argv, 2,
                                     {"layout", "rectangles", "overlap", "latent-scale", "channels", "threads",
                                      "evaluations", "warmup", "seed", "velocity-out", "tile-batch"});
    const std::string layout_path = flags.text("layout", "");
    require(!layout_path.empty(), "--layout", "", "is required (a quadflow quadtree/grid JSON)");
    const tile::layout layout = read_layout(layout_path, flags.text("rectangles", "padded"), flags.integer("overlap", 0),
                                            static_cast<int>(flags.integer("latent-scale", 1)));
    const shape4 shape{1, flags.integer("channels", 16), layout.height, layout.width};
    const int evaluations = static_cast<int>(flags.integer("evaluations", 20));
    const int warmup = static_cast<int>(flags.integer("warmup", 3));
    require(evaluations >= 1, "--evaluations", evaluations, "must be >= 1");

    field::field_options options;
    options.threads = static_cast<int>(flags.integer("threads", 1));
    options.tile_batch_size = static_cast<int>(flags.integer("tile-batch", 4));
    const double sigma = 0.5;
    const host_tensor x = noise::torch_randn(static_cast<std::uint64_t>(flags.integer("seed", 42)), shape);
    host_tensor velocity(shape);

    instant_model instant;
    field::tiled_field timed(instant, layout, shape, policy::scale{}, options);
    timed.on_step(0, sigma, 0.0);
    const std::vector<double> times = time_each(warmup, evaluations, [&] { timed(x.cview(), sigma, velocity.view()); });
    const field::field_stats stats = timed.stats();

    host_tensor copy_target(shape);
    const std::vector<double> copy_times = time_each(warmup, evaluations, [&] {
        std::memcpy(copy_target.data(), x.data(), static_cast<std::size_t>(shape.numel()) * sizeof(float));
        benchmark::DoNotOptimize(copy_target.data());
        benchmark::ClobberMemory();
    });

    std::int64_t padded_pixels = 0, padded_pixels_in_canvas = 0;
    for (const tile::tile& t : layout.tiles) {
        padded_pixels += t.padded.area();
        padded_pixels_in_canvas += clipped(t.padded, layout.width, layout.height).area();
    }
    // The bytes the blend cannot avoid moving: read every padded tile from x and write it to the model's input,
    // read the model's output where it lies in the canvas, write the velocity once. The baseline copies as many
    // bytes (half read, half written).
    const std::int64_t least_bytes = 4 * shape.c * (2 * padded_pixels + padded_pixels_in_canvas + shape.h * shape.w);
    std::vector<char, host_memory_allocator<char>> same_source(static_cast<std::size_t>(least_bytes / 2), 1),
        same_target(same_source.size(), 0);  // huge pages, as the tensors
    const std::vector<double> same_bytes_times = time_each(warmup, evaluations, [&] {
        std::memcpy(same_target.data(), same_source.data(), same_source.size());
        benchmark::DoNotOptimize(same_target.data());
        benchmark::ClobberMemory();
    });

    const std::string velocity_out = flags.text("velocity-out", "");
    if (!velocity_out.empty()) {
        check_model checker;
        field::tiled_field checked(checker, layout, shape, policy::scale{}, options);
        checked.on_step(0, sigma, 0.0);
        checked(x.cview(), sigma, velocity.view());
        write_floats(velocity_out, velocity.span());
    }

    std::printf(
        "{\"benchmark\": \"blend\", \"layout\": \"%s\", \"shape\": [%lld, %lld, %lld, %lld], \"tiles\": %zu, "
        "\"threads\": %d, \"tile_batch_size\": %d, \"model_calls_per_evaluation\": %lld, "
        "\"padded_tile_pixels\": %lld, \"padded_tile_pixels_in_canvas\": %lld, \"median_ms\": %.6g, "
        "\"times_ms\": %s, \"copy_latent_median_ms\": %.6g, \"copy_latent_times_ms\": %s, \"least_bytes\": %lld, "
        "\"copy_same_bytes_median_ms\": %.6g}\n",
        layout_path.c_str(), static_cast<long long>(shape.n), static_cast<long long>(shape.c),
        static_cast<long long>(shape.h), static_cast<long long>(shape.w), layout.tiles.size(), options.threads,
        options.tile_batch_size, static_cast<long long>(stats.model_calls / std::max<std::int64_t>(stats.evaluations, 1)),
        static_cast<long long>(padded_pixels), static_cast<long long>(padded_pixels_in_canvas), median(times),
        json_list(times).c_str(), median(copy_times), json_list(copy_times).c_str(), static_cast<long long>(least_bytes),
        median(same_bytes_times));
    return 0;
}

int run_noise(int argc, char** argv) {
    const bench::command_flags flags(argc, argv, 2, {"seed", "shape", "evaluations", "warmup", "values-out"});
    const std::vector<std::int64_t> extents = flags.integers("shape", "1,16,512,512");
    require(extents.size() == 4, "--shape", flags.text("shape", ""), "needs four extents N,C,H,W");
    const shape4 shape{extents[0], extents[1], extents[2], extents[3]};
    const auto seed = static_cast<std::uint64_t>(flags.integer("seed", 42));
    const int evaluations = static_cast<int>(flags.integer("evaluations", 10));
    require(evaluations >= 1, "--evaluations", evaluations, "must be >= 1");
    host_tensor values;
    const std::vector<double> times = time_each(static_cast<int>(flags.integer("warmup", 2)), evaluations,
                                                [&] { values = noise::torch_randn(seed, shape); });
    const std::string values_out = flags.text("values-out", "");
    if (!values_out.empty()) write_floats(values_out, values.span());
    std::printf("{\"benchmark\": \"noise\", \"seed\": %llu, \"shape\": [%lld, %lld, %lld, %lld], \"median_ms\": %.6g, "
                "\"times_ms\": %s}\n",
                static_cast<unsigned long long>(seed), static_cast<long long>(shape.n), static_cast<long long>(shape.c),
                static_cast<long long>(shape.h), static_cast<long long>(shape.w), median(times), json_list(times).c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return quadflow::bench::run_program([&] {
        const std::string command = argc > 1 ? argv[1] : "";
        if (command == "blend") return run_blend(argc, argv);
        if (command == "noise") return run_noise(argc, argv);
        std::fprintf(stderr, "usage: bench_peers blend|noise [--flag value ...] (see the comment at the top of "
                             "bench/bench_peers.cpp)\n");
        return 2;
    });
}
