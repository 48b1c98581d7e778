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
// the baseline of bench_field, and a memcpy of as many bytes as the blend must move (least_bytes). With --velocity-out
// it writes, as raw little-endian float32, the blended velocity of one evaluation on x = torch.randn(seed) with a check
// model whose output differs per tile (out = a(id) * in + b(id), see check_model), so that the PyTorch side can compare
// element by element.
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
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "program.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/noise/torch_randn.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/tile/layout.hpp"
#include "quadflow/tile/quadtree.hpp"
#include "quadflow_app/file_io.hpp"

namespace {

using namespace quadflow;
using steady = std::chrono::steady_clock;

std::string read_text(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw io_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void write_floats(const std::string& path, std::span<const float> values) {
    app::write_file(path, std::string_view(reinterpret_cast<const char*>(values.data()), values.size_bytes()));
}

/// The integer `object[key]`; a missing key or another type is an io_error naming the file.
std::int64_t json_integer(const nlohmann::json& object, const char* key, const std::string& path) {
    const auto found = object.find(key);
    if (found == object.end() || !found->is_number_integer())
        throw io_error(path + ": layout JSON has no integer \"" + key + "\" where expected");
    return found->get<std::int64_t>();
}

/// A layout from the JSON of `quadflow quadtree --json` (rectangles = cores) or `quadflow grid` (rectangles =
/// padded): {"width", "height", "tiles": [{"x", "y", "w", "h", "denoise"}, ...]} in image pixels. Cores grow by
/// min(core_w / 2, core_h / 2, overlap) latent px per side with the overlap clamped as the quadtree clamps it;
/// grid tiles are their own cores. Every tile gets strength 1: tiled-diffusion peers have no per-tile strength.
tile::layout read_layout(const std::string& path, const std::string& rectangles, std::int64_t overlap_px, int scale) {
    require(rectangles == "cores" || rectangles == "padded", "--rectangles", rectangles, "must be cores|padded");
    require(scale > 0, "--latent-scale", scale, "must be > 0");
    nlohmann::json document;
    try {
        document = nlohmann::json::parse(read_text(path));
    } catch (const nlohmann::json::parse_error& e) {
        throw io_error(path + ": not JSON: " + e.what());
    }
    if (!document.is_object() || !document.contains("tiles") || !document["tiles"].is_array())
        throw io_error(path + ": no \"tiles\" array");
    tile::layout layout;
    layout.latent_scale = scale;
    layout.width = json_integer(document, "width", path) / scale;
    layout.height = json_integer(document, "height", path) / scale;
    const std::int64_t overlap = tile::clamped_overlap_latent(overlap_px, scale, layout.width, layout.height);
    for (const nlohmann::json& tile_json : document["tiles"]) {
        if (!tile_json.is_object()) throw io_error(path + ": a tile is not an object");
        auto value = [&](const char* key) { return json_integer(tile_json, key, path) / scale; };
        const rect r{value("x"), value("y"), value("w"), value("h")};
        tile::layout_tile t;
        t.core = r;
        t.padded = r;
        if (rectangles == "cores") {
            const std::int64_t o = tile::tile_overlap(r, overlap);
            t.padded = {r.x - o, r.y - o, r.w + 2 * o, r.h + 2 * o};
        }
        t.pixel_core = {t.core.x * scale, t.core.y * scale, t.core.w * scale, t.core.h * scale};
        t.strength = 1.0;
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

struct blend_flags {
    std::string layout, rectangles = "padded", velocity_out;
    std::int64_t overlap = 0, channels = 16;
    int latent_scale = 1, threads = 1, tile_batch = 4, evaluations = 20, warmup = 3;
    std::uint64_t seed = 42;
};

struct noise_flags {
    std::uint64_t seed = 42;
    std::vector<std::int64_t> shape{1, 16, 512, 512};
    int evaluations = 10, warmup = 2;
    std::string values_out;
};

void run_blend(const blend_flags& flags) {
    const std::string& layout_path = flags.layout;
    const tile::layout layout = read_layout(layout_path, flags.rectangles, flags.overlap, flags.latent_scale);
    const shape4 shape{1, flags.channels, layout.height, layout.width};
    const int evaluations = flags.evaluations;
    const int warmup = flags.warmup;
    require(evaluations >= 1, "--evaluations", evaluations, "must be >= 1");

    field::field_options options;
    options.threads = flags.threads;
    options.tile_batch_size = flags.tile_batch;
    options.fill_outputs_with_nan = false;  // the instant model writes nothing: the field's own cost
    const double sigma = 0.5;
    const host_tensor x = noise::torch_randn(flags.seed, shape);
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
    for (const tile::layout_tile& t : layout.tiles) {
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

    const std::string& velocity_out = flags.velocity_out;
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
        options.tile_batch_size,
        static_cast<long long>(stats.model_calls / std::max<std::int64_t>(stats.evaluations, 1)),
        static_cast<long long>(padded_pixels), static_cast<long long>(padded_pixels_in_canvas), median(times),
        json_list(times).c_str(), median(copy_times), json_list(copy_times).c_str(),
        static_cast<long long>(least_bytes), median(same_bytes_times));
}

void run_noise(const noise_flags& flags) {
    const std::vector<std::int64_t>& extents = flags.shape;
    const shape4 shape{extents[0], extents[1], extents[2], extents[3]};
    const std::uint64_t seed = flags.seed;
    const int evaluations = flags.evaluations;
    require(evaluations >= 1, "--evaluations", evaluations, "must be >= 1");
    host_tensor values;
    const std::vector<double> times =
        time_each(flags.warmup, evaluations, [&] { values = noise::torch_randn(seed, shape); });
    const std::string& values_out = flags.values_out;
    if (!values_out.empty()) write_floats(values_out, values.span());
    std::printf(
        "{\"benchmark\": \"noise\", \"seed\": %llu, \"shape\": [%lld, %lld, %lld, %lld], \"median_ms\": %.6g, "
        "\"times_ms\": %s}\n",
        static_cast<unsigned long long>(seed), static_cast<long long>(shape.n), static_cast<long long>(shape.c),
        static_cast<long long>(shape.h), static_cast<long long>(shape.w), median(times), json_list(times).c_str());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"quadflow peer benchmark (see the comment at the top of bench/bench_peers.cpp)"};
    app.require_subcommand(1);
    app.option_defaults()->always_capture_default();

    blend_flags blend;
    CLI::App* blend_cmd = app.add_subcommand("blend", "Time one tiled_field evaluation on a layout");
    blend_cmd->add_option("--layout", blend.layout, "A quadflow quadtree --json or grid JSON file")->required();
    blend_cmd->add_option("--rectangles", blend.rectangles, "cores|padded")->check(CLI::IsMember({"cores", "padded"}));
    blend_cmd->add_option("--overlap", blend.overlap, "Overlap of the cores, image px");
    blend_cmd->add_option("--latent-scale", blend.latent_scale, "Image pixels per latent pixel");
    blend_cmd->add_option("--channels", blend.channels, "Latent channels");
    blend_cmd->add_option("--threads", blend.threads, "Field threads");
    blend_cmd->add_option("--tile-batch", blend.tile_batch, "Tiles per model call");
    blend_cmd->add_option("--evaluations", blend.evaluations, "Timed evaluations (>= 1)");
    blend_cmd->add_option("--warmup", blend.warmup, "Untimed evaluations first");
    blend_cmd->add_option("--seed", blend.seed, "Seed of x = torch.randn");
    blend_cmd->add_option("--velocity-out", blend.velocity_out, "Write the check model's blended velocity (float32)");
    blend_cmd->callback([&] { run_blend(blend); });

    noise_flags noise;
    CLI::App* noise_cmd = app.add_subcommand("noise", "Time torch_randn(seed, shape)");
    noise_cmd->add_option("--seed", noise.seed, "Seed (as torch.manual_seed)");
    noise_cmd->add_option("--shape", noise.shape, "N,C,H,W")->delimiter(',')->expected(4);
    noise_cmd->add_option("--evaluations", noise.evaluations, "Timed evaluations (>= 1)");
    noise_cmd->add_option("--warmup", noise.warmup, "Untimed evaluations first");
    noise_cmd->add_option("--values-out", noise.values_out, "Write the values (float32)");
    noise_cmd->callback([&] { run_noise(noise); });

    return quadflow::bench::run_program(app, argc, argv);
}
