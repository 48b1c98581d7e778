// Fixtures of the CUDA tests: a stream per test, the synthetic quadtree, field options, canvas inputs, bit
// comparison and a device Euler run.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "field_fixtures.hpp"
#include "quadflow/cuda/device_field.cuh"
#include "quadflow/cuda/device_tensor.cuh"
#include "quadflow/cuda/error.cuh"
#include "quadflow/cuda/euler.cuh"
#include "quadflow/field/options.hpp"
#include "quadflow/sampler/img2img.hpp"
#include "quadflow/testing/gaussian_model.cuh"
#include "quadflow/tile/image.hpp"
#include "quadflow/tile/quadtree.hpp"

namespace cuda_fixtures {

using namespace quadflow;
using fixtures::wavy;

/// A CUDA stream for one test.
class test_stream {
public:
    test_stream() { QUADFLOW_CUDA_CHECK(cudaStreamCreate(&stream_)); }
    test_stream(const test_stream&) = delete;
    test_stream& operator=(const test_stream&) = delete;
    ~test_stream() { cudaStreamDestroy(stream_); }
    operator cudaStream_t() const { return stream_; }

private:
    cudaStream_t stream_{};
};

/// An RGB image with a smooth part, a checkerboard and a noisy part, so that the quadtree has several depths.
inline std::vector<std::uint8_t> synthetic_image(std::int64_t width, std::int64_t height) {
    std::vector<std::uint8_t> pixels(static_cast<std::size_t>(width * height * 3));
    std::mt19937 random(7);
    for (std::int64_t y = 0; y < height; ++y)
        for (std::int64_t x = 0; x < width; ++x) {
            int r = int(x * 255 / width), g = int(y * 255 / height), b = 128;
            if (x >= width / 2 && y < height / 2 && ((x / 16 + y / 16) % 2 == 0)) r = g = b = 250;
            if (x < width / 3 && y >= height / 2) b = int(random() % 256);
            std::uint8_t* p = &pixels[static_cast<std::size_t>((y * width + x) * 3)];
            p[0] = std::uint8_t(r);
            p[1] = std::uint8_t(g);
            p[2] = std::uint8_t(b);
        }
    return pixels;
}

/// The quadtree of the synthetic image (512 x 384 px, 8 px per latent px, 16 px of overlap): padded tiles
/// reach past the canvas, so gathers reflect.
inline tile::layout synthetic_quadtree() {
    const std::vector<std::uint8_t> image = synthetic_image(512, 384);
    tile::quadtree_options o;
    o.latent_scale = 8;
    o.min_tile_size = 32;
    o.overlap_pixels = 16;
    o.min_strength = 0.0;
    o.max_strength = 1.0;
    return tile::build_quadtree(tile::packed_rgb_view(image.data(), 512, 384), o);
}

inline field::field_options options_for(const std::vector<double>& sigmas, blend::weight_kind weights, int batch = 3) {
    field::field_options o;
    o.weights = blend::weight_params{weights, 0.01f};
    o.tile_batch_size = batch;
    o.sigmas = sigmas;
    return o;
}

inline bool same_bits(const host_tensor& a, const host_tensor& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.numel())) == 0;
}

struct canvas_inputs {
    host_tensor original, noise, target;
    explicit canvas_inputs(shape4 canvas)
        : original(wavy(canvas, 1.0f, 0.3f)), noise(wavy(canvas, 1.5f, 1.7f)),
          target(wavy(shape4{1, canvas.c, canvas.h, canvas.w}, 0.8f, 2.9f)) {}
};

/// The synthetic quadtree, a 1 x 3 canvas on it and the canvas's inputs, a stream, and the prompt target on the device.
struct synthetic_device_case {
    tile::layout layout = synthetic_quadtree();
    shape4 canvas{1, 3, layout.height, layout.width};
    canvas_inputs in{canvas};
    test_stream stream;
    cuda::device_tensor target{in.target, stream};
};

/// A device Euler run from the noised original at sigmas[0]; returns the final latent.
template <class P>
host_tensor run_device(const tile::layout& layout, P policy, const std::vector<double>& sigmas, const canvas_inputs& in,
                       shape4 canvas, field::field_options options, field::field_stats* stats = nullptr) {
    test_stream stream;
    const cuda::device_tensor original(in.original, stream), noise(in.noise, stream), target(in.target, stream);
    testing::device_gaussian_model model(target.cview(), 0.1, prediction::kind::denoised);
    cuda::device_tiled_field field(model, layout, canvas, policy, options, stream, original.cview());
    cuda::device_tensor x(canvas);
    cuda::noised_original(original.cview(), noise.cview(), sigmas.front(), x.view(), stream);
    cuda::euler euler(stream);
    cuda::sample(euler, field, x.view(), sigmas);
    if (stats) *stats = field.stats();
    return x.download(stream);
}

}  // namespace cuda_fixtures
