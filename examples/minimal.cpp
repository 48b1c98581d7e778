#include <quadflow/quadflow.hpp>

#include <cstdio>

int main() {
    using namespace quadflow;
    host_tensor original(shape4{1, 16, 128, 128}, 0.2f);           // your VAE-encoded image (latent)
    host_tensor target(original.shape(), -0.3f);                   // what the "prompt" wants
    host_tensor noise = noise::torch_randn(42, original.shape());  // ComfyUI's noise for seed 42
    tile::layout layout = tile::build_grid(128, 128, {.tile = 64, .overlap_latent = 8});
    for (tile::layout_tile& t : layout.tiles) t.strength = t.id == 0 ? 0.0 : 0.6;  // keep tile 0 exactly

    model::gaussian_model prompt(target.cview(), 0.1);  // exact velocity; stands in for your engine's tile_model
    field::field_options options;
    options.sigmas = schedule::flux(20, 1024, 1024);
    field::tiled_field field(prompt, layout, original.shape(), policy::strength{}, options, original.cview());

    host_tensor x(original.shape());
    sampler::noised_original(original.cview(), noise.cview(), options.sigmas.front(), x.view());
    sampler::euler euler;
    sampler::sample(euler, field, x.view(), options.sigmas);
    std::printf("model calls %lld, x[0] = %.6f (original 0.2)\n", static_cast<long long>(field.stats().model_calls),
                x(0, 0, 0, 0));
}
