// The quadflow bridge (the one C++20 translation unit): the engine's whole-latent denoise callback becomes
// a tile model, a quadtree tiled field runs it, and the blended velocity goes back as a denoised estimate.
#include "quadflow_bridge.h"

#include <algorithm>
#include <memory>
#include <string>
#include <variant>

#include "quadflow/field/tiled_field.hpp"
#include "quadflow/model/latent_denoiser.hpp"
#include "quadflow/policy/any_policy.hpp"
#include "quadflow/tile/quadtree.hpp"

namespace bridge {
namespace {

int tile_count = 0;

std::string describe(const toy_engine::latent& l) {
    return std::to_string(l.channels) + "x" + std::to_string(l.height) + "x" + std::to_string(l.width) + " (" +
           std::to_string(l.size()) + " values)";
}

/// The engine's callback seen as a quadflow latent_denoiser_callback: each tile is a latent of its own.
struct engine_callback {
    toy_engine::denoise_callback model;
    toy_engine::latent in, out;
    void operator()(quadflow::const_view tile, double sigma, int step, quadflow::mutable_view denoised) {
        const auto& s = tile.shape();
        in.channels = out.channels = static_cast<int>(s.c);
        in.height = out.height = static_cast<int>(s.h);
        in.width = out.width = static_cast<int>(s.w);
        in.data.resize(static_cast<std::size_t>(s.numel()));
        out.data.resize(in.data.size());
        std::size_t k = 0;
        for (std::int64_t c = 0; c < s.c; ++c)
            for (std::int64_t y = 0; y < s.h; ++y)
                for (std::int64_t x = 0; x < s.w; ++x) in.data[k++] = tile(0, c, y, x);
        model(in, static_cast<float>(sigma), step, out);
        if (out.channels != in.channels || out.height != in.height || out.width != in.width || out.size() != in.size())
            throw quadflow::model_error("the engine's denoise callback returned a latent of " + describe(out) +
                                        " for a tile of " + describe(in));
        k = 0;
        for (std::int64_t c = 0; c < s.c; ++c)
            for (std::int64_t y = 0; y < s.h; ++y)
                for (std::int64_t x = 0; x < s.w; ++x) denoised(0, c, y, x) = out.data[k++];
    }
};

/// Holds everything a tiled denoise call needs, shared by the returned callback's copies.
template <class Policy>
struct tiled_state {
    quadflow::model::latent_denoiser<engine_callback> model;
    std::vector<float> original;
    quadflow::tile::layout layout;
    quadflow::shape4 shape;
    quadflow::field::tiled_field<quadflow::model::latent_denoiser<engine_callback>, Policy> field;
    quadflow::host_tensor velocity;

    tiled_state(engine_callback callback, std::vector<float> original_latent, quadflow::tile::layout tiles,
                quadflow::shape4 canvas, Policy policy, quadflow::field::field_options options)
        : model(std::move(callback)), original(std::move(original_latent)), layout(std::move(tiles)), shape(canvas),
          field(model, layout, shape, policy, std::move(options), quadflow::const_view(original.data(), shape)),
          velocity(shape) {}

    void denoise(const toy_engine::latent& x, float sigma, int step, toy_engine::latent& x0) {
        const std::string needed = "must be C x H x W = " + std::to_string(shape.numel()) + ", the tiled canvas";
        quadflow::require(static_cast<std::int64_t>(x.size()) == shape.numel(), "x.size()", x.size(), needed);
        quadflow::require(static_cast<std::int64_t>(x0.size()) == shape.numel(), "x0.size()", x0.size(), needed);
        field.on_step(step, sigma, 0.0);
        const quadflow::const_view xv(x.data.data(), shape);
        field(xv, sigma, velocity.view());
        // Back to the engine's convention: denoised = x - sigma * v.
        for (std::size_t k = 0; k < x.size(); ++k) x0.data[k] = x.data[k] - sigma * velocity.data()[k];
    }
};

}  // namespace

toy_engine::denoise_callback make_tiled_denoiser(toy_engine::denoise_callback model, const tiling_settings& settings) {
    quadflow::tile::quadtree_options tree;
    tree.latent_scale = settings.latent_scale;
    tree.min_denoise = settings.min_denoise;
    tree.max_denoise = settings.max_denoise;
    tree.overlap = settings.overlap_pixels;
    tree.align = std::max(8, settings.latent_scale);
    const quadflow::tile::rgb_image_view image{settings.rgb.data(), settings.image_width, settings.image_height,
                                               std::int64_t{settings.image_width} * 3};
    quadflow::tile::layout layout = quadflow::tile::build_quadtree(image, tree);
    tile_count = static_cast<int>(layout.tiles.size());
    const std::int64_t plane = layout.width * layout.height;
    quadflow::require(plane > 0 && static_cast<std::int64_t>(settings.original.size()) % plane == 0,
                      "original.size()", settings.original.size(),
                      "must be channels x " + std::to_string(layout.height) + " x " + std::to_string(layout.width));
    const quadflow::shape4 shape{1, static_cast<std::int64_t>(settings.original.size()) / plane, layout.height,
                                 layout.width};
    quadflow::field::field_options options;
    options.sigmas.assign(settings.sigmas.begin(), settings.sigmas.end());

    return std::visit(
        [&](auto policy) -> toy_engine::denoise_callback {
            using state = tiled_state<decltype(policy)>;
            auto shared = std::make_shared<state>(engine_callback{std::move(model), {}, {}}, settings.original, layout,
                                                  shape, policy, options);
            return [shared](const toy_engine::latent& x, float sigma, int step, toy_engine::latent& x0) {
                shared->denoise(x, sigma, step, x0);
            };
        },
        quadflow::policy::parse_policy(settings.policy));
}

int last_tile_count() { return tile_count; }

}  // namespace bridge
