// quadflow learned-model benchmarks: one img2img run of the learned flow model over a layout, timing the model's
// calls, and the helpers the three bench/learned programs share (real overlap, max |a - b|, crops, a crop's main()).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "../program.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/noise/torch_randn.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/img2img.hpp"
#include "quadflow/sampler/sample.hpp"
#include "quadflow/tile/layout.hpp"
#include "quadflow_app/image_io.hpp"
#include "quadflow_app/learned_model.hpp"

namespace quadflow::bench::learned {

struct run_result {
    host_tensor image;
    std::int64_t tile_pixels = 0;
    double seconds = 0;               ///< the whole sampling loop
    double model_seconds = 0;         ///< inside the model's calls; the rest is the field (gather, blend) and Euler
    std::int64_t bytes_received = 0;  ///< distributed: model output bytes from the other ranks
};

/// A model (the learned one), timing its calls.
template <class Model>
struct timed_model {
    Model* model;
    double seconds = 0;
    prediction::kind prediction_kind() const { return model->prediction_kind(); }
    void operator()(const model::batch_request& request, mutable_view out) {
        const auto started = std::chrono::steady_clock::now();
        (*model)(request, out);
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    }
};

/// One img2img of `original` (pixel space, RGB in [-1, 1]) with the learned model over `layout`, under `policy`,
/// from the noise torch.randn(42) (the same for every run of the same size), Euler over `sigmas`. `strength_map`
/// (empty for none) is the per-pixel strength the `mask` policy reads; `exchange` makes this process one rank of a
/// distributed field. `Model` is any tile_model (the learned model, or a stand-in).
template <class Model, class Policy>
run_result run(Model& learned, const tile::layout& layout, const host_tensor& original, const Policy& policy,
               const std::vector<double>& sigmas, const host_tensor& strength_map, blend::weight_kind weights,
               std::shared_ptr<field::batch_exchange> exchange = nullptr) {
    field::field_options o;
    o.sigmas = sigmas;
    o.weights = blend::weight_params{weights, 0.01f};
    o.exchange = std::move(exchange);
    timed_model<Model> model{&learned};
    field::tiled_field field(model, layout, original.shape(), policy, o, original.cview(),
                             strength_map.numel() ? strength_map.cview() : const_view{});
    const host_tensor noise = noise::torch_randn(42, original.shape());
    run_result r{host_tensor(original.shape())};
    sampler::noised_original(original.cview(), noise.cview(), sigmas.front(), r.image.view());
    sampler::euler euler;
    const auto started = std::chrono::steady_clock::now();
    sampler::sample(euler, field, r.image.view(), sigmas);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    r.tile_pixels = field.stats().tile_pixels;
    r.model_seconds = model.seconds;
    r.bytes_received = field.stats().bytes_received;
    return r;
}

/// The smallest overlap of horizontally adjacent tiles (build_grid spreads tiles evenly, so the real overlap is at
/// least the requested one); 0 for a single column.
inline std::int64_t real_overlap(const tile::layout& grid) {
    std::vector<std::int64_t> xs;
    for (const tile::layout_tile& t : grid.tiles) xs.push_back(t.padded.x);
    std::sort(xs.begin(), xs.end());
    xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
    const std::int64_t side = grid.tiles.front().padded.w;
    std::int64_t smallest = xs.size() > 1 ? side : 0;
    for (std::size_t i = 1; i < xs.size(); ++i) smallest = std::min(smallest, side - (xs[i] - xs[i - 1]));
    return smallest;
}

inline double max_abs(const_view a, const_view b) {
    double worst = 0.0;
    for (std::int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(double(a.data()[i]) - b.data()[i]));
    return worst;
}

/// The side x side crop of `image` at (x, y); throws invalid_argument (naming --crop) unless it lies inside.
inline app::rgb_image crop(const app::rgb_image& image, std::int64_t x, std::int64_t y, std::int64_t side) {
    require(x >= 0 && y >= 0 && side >= 1 && x + side <= image.width && y + side <= image.height, "--crop", side,
            "the crop must lie inside the image");
    app::rgb_image out(side, side);
    for (std::int64_t v = 0; v < side; ++v)
        for (std::int64_t u = 0; u < side; ++u) out.set(u, v, image.at(x + u, y + v));
    return out;
}

/// The main() of a measurement on a crop of one photo with the learned model: --model, --image, --crop (`crop_help`),
/// --x, --y, the program's own flags (add_flags(app, options)), --steps and --csv; then measure(options, std::cout).
template <class Options>
int crop_measurement_main(int argc, char** argv, const std::string& title, const std::string& crop_help,
                          void (*add_flags)(CLI::App&, Options&), void (*measure)(const Options&, std::ostream&)) {
    Options o;
    CLI::App app(title);
    app.add_option("--model", o.model, "TorchScript flow model");
    app.add_option("--image", o.image, "Photo to crop");
    app.add_option("--crop", o.crop, crop_help);
    app.add_option("--x", o.x, "Crop left, px");
    app.add_option("--y", o.y, "Crop top, px");
    add_flags(app, o);
    app.add_option("--steps", o.steps, "Euler steps of the full schedule");
    return run_measurement(
        app, o.csv, "CSV output", [&] { measure(o, std::cout); }, argc, argv);
}

}  // namespace quadflow::bench::learned
