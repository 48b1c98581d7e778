// The C++17-visible face of the quadflow bridge: wraps an engine's denoise callback into a tiled one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "toy_engine.h"

namespace bridge {

/// What the engine tells the bridge; plain C++17 types only.
struct tiling_settings {
    std::vector<float> sigmas;      ///< the schedule the engine's sampler runs
    std::vector<float> original;    ///< the clean latent (img2img), NCHW with N = 1
    std::vector<std::uint8_t> rgb;  ///< the input image, interleaved RGB8, for the quadtree
    int image_width = 0, image_height = 0;
    int latent_scale = 8;           ///< image pixels per latent pixel
    double min_denoise = 0.0, max_denoise = 0.8;
    int overlap_pixels = 64;
    std::string policy = "strength";  ///< any quadflow policy name
};

/// Returns a denoise callback with the engine's own signature that runs `model` tile by tile over a
/// quadtree of the image, applies the velocity policy per tile, and blends the tiles back. The
/// engine's sampler stays as it is. Throws std::runtime_error (a quadflow::error) on bad settings.
toy_engine::denoise_callback make_tiled_denoiser(toy_engine::denoise_callback model, const tiling_settings& settings);

/// Number of tiles of the quadtree the last make_tiled_denoiser built.
int last_tile_count();

}  // namespace bridge
