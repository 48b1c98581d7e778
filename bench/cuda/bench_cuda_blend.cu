// quadflow CUDA benchmark: the fused tile blend (accumulate + normalise, kernels.cuh) on a 1x16x512x512 latent
// with the demo photo's quadtree (threshold 8, 16 px minimum tile, overlap 8: 964 tiles), against a
// device-to-device cudaMemcpyAsync of the same bytes (and one of a latent) in the same run, timed with CUDA
// events; and a whole device field step (host planning, table upload, gather, model that returns at once,
// blend, finiteness check) in wall time.
//
// blend_fused_plain: every tile takes the model's velocity (what the tiled-diffusion extensions blend);
// blend_fused_strength: the strength policy mid-schedule (preserving tiles read the state and the original).
// bytes_per_second counts the bytes each kernel must move: the blend reads every tile's model output inside
// the canvas (3.7 latents here, the overlap), the reciprocal weight sums and, when a tile preserves, the
// state and the original, and writes one latent; copy_same_bytes_* reads half of that many bytes and writes
// the other half; copy_latent reads and writes one latent. latent_bytes_per_second counts one latent read and
// one written for all of them.
// --layout_json=PATH writes the layout and --velocity_out=PATH the plain blend's result, for
// bench/peers/torch_tiled_blend_cuda.py.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "demo_quadtree.hpp"
#include "quadflow/cuda/blend_tables.hpp"
#include "quadflow/cuda/device_field.cuh"
#include "quadflow/cuda/device_tables.cuh"
#include "quadflow/cuda/device_tensor.cuh"
#include "quadflow/cuda/kernels.cuh"
#include "quadflow/cuda/memory.cuh"
#include "quadflow/field/blend_plan.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/schedule/strength.hpp"
#include "quadflow/tile/quadtree.hpp"
#include "quadflow_app/file_io.hpp"
#include "ratio_main.hpp"

namespace {

using namespace quadflow;
constexpr shape4 latent_shape{1, 16, 512, 512};
constexpr blend::weight_params gaussian_weights{blend::weight_kind::gaussian, 0.01f};

/// The demo photo's quadtree at threshold 8: 964 tiles.
const tile::layout& demo_quadtree() {
    static const tile::layout layout = bench::demo_photo_quadtree(8);
    return layout;
}

/// Writes the layout as {"width", "height", "channels", "weights", "variance", "tiles": [[x, y, w, h], ...]}
/// with padded rectangles in latent pixels.
void write_layout_json(const std::string& path, const tile::layout& layout) {
    std::ostringstream out;
    out << "{\"width\": " << layout.width << ", \"height\": " << layout.height << ", \"channels\": " << latent_shape.c
        << ", \"weights\": \"gaussian\", \"variance\": " << gaussian_weights.variance << ", \"tiles\": [";
    for (std::size_t i = 0; i < layout.tiles.size(); ++i) {
        const rect& r = layout.tiles[i].padded;
        out << (i ? ", " : "") << "[" << r.x << ", " << r.y << ", " << r.w << ", " << r.h << "]";
    }
    out << "]}\n";
    app::write_file(path, out.str());
}

class stream_owner {
public:
    stream_owner() { QUADFLOW_CUDA_CHECK(cudaStreamCreate(&stream_)); }
    ~stream_owner() { cudaStreamDestroy(stream_); }
    operator cudaStream_t() const { return stream_; }

private:
    cudaStream_t stream_{};
};

/// Times `enqueue` with CUDA events per iteration (manual time).
template <class Enqueue>
void time_with_events(benchmark::State& state, cudaStream_t stream, Enqueue enqueue) {
    cudaEvent_t start, stop;
    QUADFLOW_CUDA_CHECK(cudaEventCreate(&start));
    QUADFLOW_CUDA_CHECK(cudaEventCreate(&stop));
    enqueue();  // warm-up
    for (auto _ : state) {
        QUADFLOW_CUDA_CHECK(cudaEventRecord(start, stream));
        enqueue();
        QUADFLOW_CUDA_CHECK(cudaEventRecord(stop, stream));
        QUADFLOW_CUDA_CHECK(cudaEventSynchronize(stop));
        float ms = 0;
        QUADFLOW_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
        state.SetIterationTime(ms / 1000.0);
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
}

void set_rates(benchmark::State& state, double moved_bytes) {
    const auto iterations = static_cast<double>(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(iterations * moved_bytes));
    state.counters["latent_bytes_per_second"] =
        benchmark::Counter(iterations * double(latent_shape.numel()) * 2 * 4, benchmark::Counter::kIsRate);
}

/// Inputs of the fused blend of one evaluation on the demo quadtree: every tile's model output in its slot
/// (slots in tile order, value of slot element i: ((i * 2654435761) mod 1000) / 1000 - 0.5, as
/// bench/peers/torch_tiled_blend_cuda.py builds them), per-tile linear velocities of `Policy` at step
/// `step` of a 20-step FLUX schedule.
struct blend_fixture {
    cudaStream_t stream;
    cuda::device_blend_tables tables;
    cuda::device_buffer<cuda::tile_step> steps;
    cuda::device_tensor model_output, x, original, velocity;
    cuda::device_buffer<cuda::non_finite_record> record{1};
    cuda::blend_arguments arguments;
    double moved_bytes = 0;    ///< what one blend must read and write
    double model_latents = 0;  ///< model output read, in latents

    template <class Policy>
    blend_fixture(cudaStream_t s, Policy policy, int step) : stream(s) {
        const tile::layout& layout = demo_quadtree();
        tables = cuda::device_blend_tables(
            cuda::build_blend_tables(layout, field::blend_plan(layout, gaussian_weights)), stream);
        const std::vector<double> sigmas = schedule::flux(20, 4096, 4096);
        std::vector<cuda::tile_step> host_steps(layout.tiles.size());
        std::int64_t slots = 0;
        double model_bytes = 0;
        bool preserving = false;
        for (std::size_t t = 0; t < layout.tiles.size(); ++t) {
            const tile::layout_tile& tl = layout.tiles[t];
            policy::tile_context c;
            c.strength = static_cast<float>(tl.strength);
            c.sigma = static_cast<float>(sigmas[step]);
            c.step = step;
            c.total_steps = 20;
            c.start_step =
                static_cast<int>(schedule::img2img_start_index(schedule::strength_rule::diffusers, 20, tl.strength));
            const bool sent = policy.needs_model(c);
            const policy::linear_velocity l = policy.linear(c);
            host_steps[t].slot = sent ? slots : -1;
            host_steps[t].linear = {sent ? l.model : 0.0f, l.preserve};
            preserving = preserving || l.preserve != 0.0f;
            if (sent)
                model_bytes += 4.0 * double(latent_shape.c * clipped(tl.padded, layout.width, layout.height).area());
            slots += tl.padded.area() * latent_shape.c;
        }
        steps = cuda::device_buffer<cuda::tile_step>(host_steps.size());
        steps.upload(std::span<const cuda::tile_step>(host_steps), stream);
        host_tensor outputs(shape4{1, 1, 1, slots});
        for (std::int64_t i = 0; i < slots; ++i)
            outputs.span()[i] = float((i * std::int64_t{2654435761}) % 1000) * 1e-3f - 0.5f;
        model_output = cuda::device_tensor(outputs, stream);
        x = cuda::device_tensor(host_tensor(latent_shape, 0.25f), stream);
        original = cuda::device_tensor(host_tensor(latent_shape, 0.1f), stream);
        velocity = cuda::device_tensor(latent_shape);
        QUADFLOW_CUDA_CHECK(cudaMemsetAsync(record.data(), 0xff, record.bytes(), stream));
        QUADFLOW_CUDA_CHECK(cudaStreamSynchronize(stream));

        arguments = tables.arguments(latent_shape.c);
        arguments.x = preserving ? x.data() : nullptr;
        arguments.original = preserving ? original.data() : nullptr;
        arguments.model_output = model_output.data();
        arguments.velocity = velocity.data();
        arguments.steps = steps.data();
        arguments.kind = prediction::kind::flow_velocity;
        arguments.sigma = static_cast<float>(sigmas[step]);
        arguments.non_finite = record.data();
        const double latent_bytes = double(latent_shape.numel()) * 4;
        moved_bytes = model_bytes + latent_bytes * (preserving ? 3 : 1) + double(latent_shape.h * latent_shape.w) * 4;
        model_latents = model_bytes / latent_bytes;
    }

    template <class Policy>
    void enqueue(const Policy& policy) {
        cuda::blend_tiles(arguments, tables.blocks_x(), tables.blocks_y(), policy, stream);
    }
};

/// Every tile takes the model's velocity (skip with no predicate): the plain blend of the tiled-diffusion
/// extensions, what the PyTorch peer computes.
constexpr policy::skip plain_blend{policy::preservation::exact, 0, -1.0f};

template <class Policy>
void blend_fused(benchmark::State& state, Policy policy, int step) {
    stream_owner stream;
    blend_fixture fixture(stream, policy, step);
    time_with_events(state, stream, [&] { fixture.enqueue(policy); });
    set_rates(state, fixture.moved_bytes);
    state.counters["tiles"] = static_cast<double>(demo_quadtree().tiles.size());
    state.counters["model_latents_read"] = fixture.model_latents;
}

void blend_fused_plain(benchmark::State& state) { blend_fused(state, plain_blend, 10); }
void blend_fused_strength(benchmark::State& state) { blend_fused(state, policy::strength{}, 10); }
BENCHMARK(blend_fused_plain)->Unit(benchmark::kMicrosecond)->UseManualTime();
BENCHMARK(blend_fused_strength)->Unit(benchmark::kMicrosecond)->UseManualTime();

/// Writes the plain blend's velocity (float32, NCHW, native byte order) for the peer's value check.
void write_plain_velocity(const std::string& path) {
    stream_owner stream;
    blend_fixture fixture(stream, plain_blend, 10);
    fixture.enqueue(plain_blend);
    const host_tensor velocity = fixture.velocity.download(stream);
    app::write_file(path, std::string_view(reinterpret_cast<const char*>(velocity.data()),
                                           static_cast<std::size_t>(velocity.numel()) * sizeof(float)));
}

void copy_latent(benchmark::State& state) {
    stream_owner stream;
    const cuda::device_tensor source(host_tensor(latent_shape, 0.5f), stream);
    cuda::device_tensor target(latent_shape);
    const std::size_t bytes = static_cast<std::size_t>(latent_shape.numel()) * 4;
    time_with_events(state, stream, [&] {
        QUADFLOW_CUDA_CHECK(cudaMemcpyAsync(target.data(), source.data(), bytes, cudaMemcpyDeviceToDevice, stream));
    });
    set_rates(state, 2.0 * double(bytes));
}
BENCHMARK(copy_latent)->Unit(benchmark::kMicrosecond)->UseManualTime();

/// A device-to-device copy that reads and writes as many bytes as the blend with `Policy` must move (half of
/// them read, half written): the blend's baseline. Its buffers (40 MB and more) do not stay in the 50 MB L2
/// between iterations, as the latent copy's 16.8 MB partly do.
template <class Policy>
void copy_same_bytes(benchmark::State& state, Policy policy) {
    stream_owner stream;
    double bytes = 0;
    {
        const blend_fixture fixture(stream, policy, 10);
        bytes = fixture.moved_bytes;
    }
    const std::size_t half = static_cast<std::size_t>(bytes / 2) / 4 * 4;
    cuda::device_buffer<float> source(half / 4), target(half / 4);
    QUADFLOW_CUDA_CHECK(cudaMemsetAsync(source.data(), 0, half, stream));
    time_with_events(state, stream, [&] {
        QUADFLOW_CUDA_CHECK(cudaMemcpyAsync(target.data(), source.data(), half, cudaMemcpyDeviceToDevice, stream));
    });
    set_rates(state, 2.0 * double(half));
}
void copy_same_bytes_plain(benchmark::State& state) { copy_same_bytes(state, plain_blend); }
void copy_same_bytes_strength(benchmark::State& state) { copy_same_bytes(state, policy::strength{}); }
BENCHMARK(copy_same_bytes_plain)->Unit(benchmark::kMicrosecond)->UseManualTime();
BENCHMARK(copy_same_bytes_strength)->Unit(benchmark::kMicrosecond)->UseManualTime();

/// A device model that returns at once once its outputs hold zeros (the first evaluation writes them): the
/// field's own cost alone.
struct instant_model {
    bool zero_outputs = true;
    prediction::kind prediction_kind() const { return prediction::kind::flow_velocity; }
    void operator()(const model::batch_request&, mutable_view out, cudaStream_t stream) const {
        if (zero_outputs)
            QUADFLOW_CUDA_CHECK(cudaMemsetAsync(out.data(), 0, static_cast<std::size_t>(out.numel()) * 4, stream));
    }
};

/// One evaluation of the device field in wall time: host planning, table upload, gather, batches, blend
/// and the wait for the finiteness record.
void field_step(benchmark::State& state) {
    stream_owner stream;
    const cuda::device_tensor x(host_tensor(latent_shape, 0.25f), stream),
        original(host_tensor(latent_shape, 0.1f), stream);
    cuda::device_tensor velocity(latent_shape);
    instant_model model;
    field::field_options options;
    options.fill_outputs_with_nan = false;  // the instant model writes its zeros once: the field's own cost
    options.weights = gaussian_weights;
    options.sigmas = schedule::flux(20, 4096, 4096);
    options.tile_batch_size = static_cast<int>(state.range(0));
    cuda::device_tiled_field f(model, demo_quadtree(), latent_shape, policy::scale{}, options, stream,
                               original.cview());
    f.on_step(10, options.sigmas[10], options.sigmas[11]);
    f(x.cview(), options.sigmas[10], velocity.view());
    model.zero_outputs = false;
    for (auto _ : state) f(x.cview(), options.sigmas[10], velocity.view());
    set_rates(state, double(latent_shape.numel()) * 2 * 4);
    state.counters["model_calls_per_step"] =
        static_cast<double>(f.stats().model_calls) / static_cast<double>(f.stats().evaluations);
    state.counters["device_MiB"] = static_cast<double>(f.device_bytes()) / (1 << 20);
}
BENCHMARK(field_step)->ArgName("batch")->Arg(16)->Arg(64)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
    std::vector<char*> arguments;
    constexpr std::string_view layout_flag = "--layout_json=", velocity_flag = "--velocity_out=";
    std::string velocity_path;
    for (int i = 0; i < argc; ++i) {
        const std::string_view argument(argv[i]);
        if (argument.starts_with(layout_flag)) {
            write_layout_json(std::string(argument.substr(layout_flag.size())), demo_quadtree());
            std::printf("layout: %zu tiles written to %s\n", demo_quadtree().tiles.size(),
                        argv[i] + layout_flag.size());
        } else if (argument.starts_with(velocity_flag)) {
            velocity_path = std::string(argument.substr(velocity_flag.size()));
        } else {
            arguments.push_back(argv[i]);
        }
    }
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        std::printf("no CUDA device: nothing to measure\n");
        return 0;
    }
    cudaDeviceProp properties{};
    QUADFLOW_CUDA_CHECK(cudaGetDeviceProperties(&properties, 0));
    std::printf("device: %s\n", properties.name);
    if (!velocity_path.empty()) {
        write_plain_velocity(velocity_path);
        std::printf("plain blend velocity written to %s\n", velocity_path.c_str());
    }
    return quadflow::bench::run_with_ratios(
        static_cast<int>(arguments.size()), arguments.data(),
        {{"blend_fused_plain/manual_time", "copy_same_bytes_plain/manual_time", "bytes_per_second",
          ">= 0.7 (same bytes)"},
         {"blend_fused_strength/manual_time", "copy_same_bytes_strength/manual_time", "bytes_per_second",
          ">= 0.7 (same bytes)"},
         {"blend_fused_plain/manual_time", "copy_latent/manual_time", "bytes_per_second",
          "(report: against one latent's copy)"}});
}
