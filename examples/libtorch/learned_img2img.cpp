// quadflow with a learned model through LibTorch: a TorchScript flow model (models/flow_unet.pt) as the tile_model of
// a tiled img2img, next to its untiled run. Build needs LibTorch (apt-get install libtorch-dev).
//
//   quadflow_libtorch_example [MODEL] [STRENGTH]
//
// The "latent" is a synthetic 96 x 96 RGB picture in [-1, 1]; the grid's top-left tile is kept (strength 0), the
// others are regenerated at STRENGTH (default 0.5) with the `strength` policy; the same run on the whole canvas as
// one tile (field::canvas_field) is the untiled reference.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "quadflow/field/canvas_field.hpp"
#include "quadflow/field/tiled_field.hpp"
#include "quadflow/libtorch/torchscript_model.hpp"
#include "quadflow/metrics/metrics.hpp"
#include "quadflow/noise/torch_randn.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/sampler/euler.hpp"
#include "quadflow/sampler/img2img.hpp"
#include "quadflow/sampler/sample.hpp"
#include "quadflow/schedule/flux.hpp"
#include "quadflow/schedule/strength.hpp"
#include "quadflow/tile/grid.hpp"

int main(int argc, char** argv) {
    using namespace quadflow;
    const std::string path = argc > 1 ? argv[1] : QUADFLOW_MODEL_PATH;
    const double strength = argc > 2 ? std::atof(argv[2]) : 0.5;
    try {
        libtorch::torchscript_model model(path, {2});  // loaded once; 2 LibTorch threads

        host_tensor original(shape4{1, 3, 96, 96});  // stripes and a gradient, in [-1, 1]
        for (std::int64_t c = 0; c < 3; ++c)
            for (std::int64_t y = 0; y < 96; ++y)
                for (std::int64_t x = 0; x < 96; ++x)
                    original(0, c, y, x) = 0.6f * std::sin(0.3f * static_cast<float>(x + 2 * c)) * (y / 96.0f);

        tile::layout layout = tile::build_grid(96, 96, {.tile = 48, .overlap_latent = 8, .latent_scale = 1});
        for (tile::layout_tile& t : layout.tiles) t.strength = t.id == 0 ? 0.0 : 1.0;
        field::field_options options;
        options.sigmas =
            schedule::img2img_sigmas(schedule::flux(8, 96, 96), strength, schedule::strength_rule::diffusers);
        field::tiled_field tiled(model, layout, original.shape(), policy::strength{}, options, original.cview());
        field::canvas_field untiled(model);

        const host_tensor noise = noise::torch_randn(42, original.shape());
        host_tensor x_tiled(original.shape()), x_untiled(original.shape());
        sampler::noised_original(original.cview(), noise.cview(), options.sigmas.front(), x_tiled.view());
        sampler::noised_original(original.cview(), noise.cview(), options.sigmas.front(), x_untiled.view());
        sampler::euler euler;
        sampler::sample(euler, tiled, x_tiled.view(), options.sigmas);
        sampler::sample(euler, untiled, x_untiled.view(), options.sigmas);

        // Where only the kept tile reaches (its neighbours' padded rectangles left out), and the difference to the
        // untiled run where only regenerated tiles reach.
        const auto kept = metrics::tile_region_error(x_tiled.cview(), original.cview(), layout,
                                                     [](const tile::layout_tile& t) { return t.strength == 0.0; });
        const auto gap = metrics::tile_region_error(x_tiled.cview(), x_untiled.cview(), layout,
                                                    [](const tile::layout_tile& t) { return t.strength > 0.0; });
        std::printf(
            "model %s: %lld calls; kept tile max |x - original| = %.2e; regenerated max |tiled - untiled| = %.3f\n",
            path.c_str(), static_cast<long long>(model.stats().calls), kept.max, gap.max);
        const bool ok = kept.elements > 0 && kept.max <= 1e-5;
        std::printf("learned example: %s\n", ok ? "OK" : "FAILED");
        return ok ? 0 : 1;
    } catch (const quadflow::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
}
