// Tests of per-tile conditioning on the GPU: cuda::device_tiled_field gathers the auxiliary canvases' crops with its
// kernel, hands the tiles' metadata and conditions to the model, and equals field::tiled_field with the same model.
// `--host-only` runs the checks that need no GPU; otherwise the program exits 77 without a GPU.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "cuda_fixtures.cuh"
#include "cuda_test_main.cuh"
#include "quadflow/core/rect.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/testing/conditioned_model.hpp"
#include "quadflow/tile/conditions.hpp"

using namespace quadflow;
using namespace cuda_fixtures;

namespace {

/// Runs testing::conditioned_model on host copies of a device batch and its auxiliary crops, so the device field's
/// gather of the crops is compared with the CPU field's.
class forwarding_model {
public:
    explicit forwarding_model(testing::conditioned_model& cpu) : cpu_(&cpu) {}
    prediction::kind prediction_kind() const { return cpu_->prediction_kind(); }
    void operator()(const model::batch_request& request, mutable_view out, cudaStream_t stream) {
        host_tensor x = download(request.x, stream), prediction(out.shape());
        std::vector<host_tensor> crops;
        for (const const_view& a : request.auxiliary) crops.push_back(download(a, stream));
        std::vector<const_view> views;
        for (const host_tensor& c : crops) views.push_back(c.cview());
        seen_conditions.clear();
        for (const model::tile_info& t : request.tiles) {
            seen_conditions.push_back(t.condition);
            metadata_ok = metadata_ok && t.padded_pixels == scaled(t.padded, request.canvas.latent_scale) &&
                          t.core_pixels == scaled(t.core, request.canvas.latent_scale);
        }
        mixed = mixed || std::any_of(seen_conditions.begin(), seen_conditions.end(),
                                     [&](std::int32_t c) { return c != seen_conditions.front(); });
        (*cpu_)(model::batch_request{x.cview(), request.sigma, request.step, request.tiles, request.canvas, views},
                prediction.view());
        QUADFLOW_CUDA_CHECK(cudaMemcpyAsync(out.data(), prediction.data(), sizeof(float) * std::size_t(out.numel()),
                                            cudaMemcpyHostToDevice, stream));
        QUADFLOW_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    std::vector<std::int32_t> seen_conditions;
    bool mixed = false, metadata_ok = true;

private:
    static host_tensor download(const_view v, cudaStream_t stream) {
        host_tensor h(v.shape());
        QUADFLOW_CUDA_CHECK(cudaMemcpyAsync(h.data(), v.data(), sizeof(float) * std::size_t(h.numel()),
                                            cudaMemcpyDeviceToHost, stream));
        QUADFLOW_CUDA_CHECK(cudaStreamSynchronize(stream));
        return h;
    }
    testing::conditioned_model* cpu_;
};
static_assert(cuda::device_tile_model<forwarding_model>);

}  // namespace

TEST_SUITE("host") {
    TEST_CASE("reflect_scaled_index is the same function on the host and in device code (constexpr)") {
        static_assert(reflect_scaled_index(-1, 5, 8) == 8);
        static_assert(reflect_scaled_index(47, 5, 8) == 24);
        CHECK(reflect_scaled_index(-3, 4, 1) == reflect_index(-3, 4));
    }
}

TEST_SUITE("device") {
    TEST_CASE("conditions and auxiliary canvases: the CUDA field equals the CPU field, batches never mix conditions") {
        tile::layout layout = synthetic_quadtree();  // latent scale 8, padded tiles past every edge
        tile::assign_conditions(layout, [](const tile::layout_tile& t) { return static_cast<std::int32_t>(t.id % 3); });
        const shape4 canvas{2, 3, layout.height, layout.width};
        const canvas_inputs in(canvas);
        const host_tensor control = wavy(shape4{2, 2, layout.height * 8, layout.width * 8}, 1.0f, 0.7f);
        const host_tensor mask = wavy(shape4{1, 1, layout.height, layout.width}, 1.0f, 1.9f);
        const std::vector<std::vector<float>> colours{{0.5f, 0.1f, -0.2f}, {-0.4f, 0.6f, 0.2f}, {0.1f, -0.3f, 0.7f}};
        const std::vector<double> sigmas = schedule::flux(8, 512, 512);
        for (int batch : {1, 4}) {
            CAPTURE(batch);
            field::field_options options = options_for(sigmas, blend::weight_kind::gaussian, batch);
            options.auxiliary = {{control.cview(), 8}, {mask.cview(), 1}};
            testing::conditioned_model cpu_model(colours, 0.4f);
            field::tiled_field cpu(cpu_model, layout, canvas, policy::scale{}, options);

            test_stream stream;
            const cuda::device_tensor control_device(control, stream), mask_device(mask, stream);
            field::field_options device_options = options;
            device_options.auxiliary = {{control_device.cview(), 8}, {mask_device.cview(), 1}};
            testing::conditioned_model forwarded(colours, 0.4f);
            forwarding_model gpu_model(forwarded);
            cuda::device_tiled_field gpu(gpu_model, layout, canvas, policy::scale{}, device_options, stream);

            for (int step : {0, 4}) {
                CAPTURE(step);
                host_tensor x = wavy(canvas, 1.0f, 0.3f + float(step)), v(canvas);
                cuda::device_tensor x_device(x, stream), v_device(canvas);
                cpu.on_step(step, sigmas[step], sigmas[step + 1]);
                gpu.on_step(step, sigmas[step], sigmas[step + 1]);
                cpu(x.cview(), sigmas[step], v.view());
                gpu(x_device.cview(), sigmas[step], v_device.view());
                const host_tensor gpu_v = v_device.download(stream);
                double worst = 0, scale = 0;
                for (std::int64_t i = 0; i < v.numel(); ++i) {
                    worst = std::max(worst, double(std::abs(gpu_v.data()[i] - v.data()[i])));
                    scale = std::max(scale, double(std::abs(v.data()[i])));
                }
                CHECK(worst <= 1e-5 * scale);
            }
            CHECK_FALSE(gpu_model.mixed);
            CHECK(gpu_model.metadata_ok);
            CHECK(forwarded.tiles_by_condition() == cpu_model.tiles_by_condition());
        }
    }

    TEST_CASE("the CUDA field refuses an auxiliary canvas in host memory") {
        const tile::layout layout = synthetic_quadtree();
        const shape4 canvas{1, 3, layout.height, layout.width};
        const host_tensor mask(shape4{1, 1, layout.height, layout.width});
        test_stream stream;
        const cuda::device_tensor target(canvas_inputs(canvas).target, stream);
        testing::device_gaussian_model model(target.cview(), 0.1);
        field::field_options options;
        options.auxiliary = {{mask.cview(), 1}};
        CHECK_THROWS_WITH_AS(cuda::device_tiled_field(model, layout, canvas, policy::scale{}, options, stream),
                             "auxiliary[0].data memory = host: must be the field's: device", invalid_argument);
    }
}

int main(int argc, char** argv) { return cuda_fixtures::run_tests(argc, argv); }
