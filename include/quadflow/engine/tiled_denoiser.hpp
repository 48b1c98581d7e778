// quadflow engine bridge, interface (C++17): an engine's whole-latent denoiser gains quadtree tiling.
//
// An engine in the style of stable-diffusion.cpp keeps its sampler and calls a denoiser with the whole latent,
// sigma and its step number, getting back the denoised estimate x0. `tiled_denoiser` is such a denoiser: it
// cuts the latent into model-sized tiles, calls the engine's model once per batch of tiles (with each tile's
// rectangle and id), applies a velocity policy per pixel or tile and blends the tiles back into one x0.
// This header is plain C++17 so that the engine's own files can include it; the implementation is C++20 and
// lives in quadflow/engine/tiled_denoiser_impl.hpp, included by exactly one C++20 translation unit.
//
// The handshake an engine must follow (docs/engines.md):
//   - `sigmas` is the schedule the engine samples, after any img2img truncation (stable-diffusion.cpp:
//     sigmas[N - t_enc - 1 :], see sdcpp_img2img_schedule); every call's sigma must lie on the step it names;
//   - steps are numbered as `numbering` says (stable-diffusion.cpp: i + 1, and -(i + 1) for the first call
//     of a two-call step such as Heun's or DPM2's);
//   - the engine's model returns denoised x0 (sigma convention: x = (1 - sigma) x0 + sigma noise).
// A call that breaks the handshake throws quadflow::invalid_argument naming the engine's step and sigma.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "quadflow/core/error.hpp"

namespace quadflow::engine {

/// How the engine numbers the `step` it passes with each call of the denoiser.
enum class step_numbering {
    from_zero,  ///< step i of the schedule is passed as i (quadflow's own samplers)
    sdcpp,      ///< stable-diffusion.cpp: i + 1, and -(i + 1) for the first call of a two-call step
};

/// A rectangle in latent pixels of the canvas.
struct latent_rect {
    std::int64_t x = 0, y = 0, w = 0, h = 0;
};

/// Where one tile of a batch comes from.
struct tile_meta {
    latent_rect padded;          ///< the tile as sent; may extend past the canvas (those pixels are mirror reflections)
    latent_rect core;            ///< the part of the canvas the tile is responsible for
    std::int64_t id = 0;         ///< stable id within the model-tile layout
    latent_rect padded_pixels;   ///< `padded` in image pixels (times latent_scale)
    latent_rect core_pixels;     ///< `core` in image pixels
    std::int32_t condition = 0;  ///< the tile's condition index (tiling_settings::region_labels); one per batch
};

/// One tile batch's crops of an auxiliary image (tiling_settings::auxiliary): count x channels x height x width,
/// height and width the tiles' times the image's scale, padded and reflected as the latent is.
struct auxiliary_crops {
    const float* data = nullptr;
    int channels = 0, height = 0, width = 0;
};

/// One call of the engine's model on a batch of same-sized tiles, all at one noise level.
struct tile_batch {
    const float* x = nullptr;   ///< count x channels x height x width, contiguous, state at `sigma`
    float* denoised = nullptr;  ///< same shape: the engine writes its denoised estimate x0 here
    int count = 0, channels = 0, height = 0, width = 0;
    float sigma = 1.0f;                          ///< sigma convention; FLUX takes sigma itself as its timestep
    int step = 0;                                ///< the step exactly as the engine passed it to the tiled denoiser
    const tile_meta* tiles = nullptr;            ///< `count` entries
    int canvas_width = 0, canvas_height = 0;     ///< the whole latent, latent px
    int latent_scale = 8;                        ///< image pixels per latent pixel
    const auxiliary_crops* auxiliary = nullptr;  ///< one per tiling_settings::auxiliary image, in its order
    int auxiliary_count = 0;
};

/// A user image cropped per tile for the engine's model (a ControlNet image, an inpainting mask, a depth map).
struct auxiliary_image {
    std::vector<float> values;  ///< channels x (latent height * scale) x (latent width * scale), contiguous
    int channels = 1;
    int scale = 8;  ///< pixels per latent pixel: latent_scale for an image-resolution image, 1 at latent resolution
};

/// The engine's model on a batch of tiles: writes the denoised estimate of every element of `batch.x`.
/// Throwing aborts the denoiser call with that exception.
using batch_denoiser = std::function<void(const tile_batch& batch)>;

/// What the engine tells the bridge; plain C++17 types only.
struct tiling_settings {
    std::vector<float> sigmas;  ///< the schedule the engine samples (after img2img truncation), high to low
    step_numbering numbering = step_numbering::sdcpp;
    std::vector<float> original;  ///< the clean latent (img2img), C x H x W
    /// How the canvas is cut for the model: "quadtree" (model tiles built on the quadtree of `rgb`, whose leaves
    /// paint the per-pixel strengths) or "grid" (a uniform grid of `max_tile` with `overlap`; every pixel at
    /// `max_strength` unless `strength_map` says otherwise; `rgb` may be empty).
    std::string tiler = "quadtree";
    std::vector<std::uint8_t> rgb;          ///< the input image, interleaved RGB8, for the quadtree of strengths
    int image_width = 0, image_height = 0;  ///< image px; the latent is (image_height / latent_scale) x (.. width ..)
    /// Per latent pixel, the strength in [0, 1] that the `mask` policy reads (latent height x width, row-major), in
    /// place of the quadtree's painted strengths; empty: the tiler's strengths.
    std::vector<float> strength_map;
    int latent_scale = 8;                           ///< image pixels per latent pixel
    double min_strength = 0.0, max_strength = 0.8;  ///< strength of the calmest and the busiest quadtree leaves
    /// Any quadflow policy name. The default, `mask`, reads each pixel's strength from the quadtree's leaves,
    /// so pixels of strength 0 stay the original exactly whatever the model tiles.
    std::string policy = "mask";
    std::string strength_rule = "sdcpp";  ///< how a tile's strength maps to its start step (`strength` policy)
    /// Model tiles, latent px: sides in [min_tile, max_tile] (smaller only where the canvas is), origins on
    /// multiples of `align` (2 for FLUX's 2x2 patches), `overlap_latent` latent px of context on each side.
    int min_tile = 64, max_tile = 128, align = 2, overlap_latent = 8;
    /// true: send the quadtree's leaves themselves to the model, as comfyui-quadtree-tile does (down to 1x1-latent
    /// tiles: for measurement, not for a real model), with `leaf_overlap_pixels` image px of overlap.
    bool leaf_tiles = false;
    int leaf_overlap_pixels = 64;
    int tile_batch_size = 4;  ///< tiles per model call
    /// Per image pixel, a condition index >= 0 (image_width x image_height, row-major), or empty (every tile 0):
    /// each model tile takes the label covering most of its core, and a batch holds tiles of one condition, so the
    /// engine picks a prompt embedding per batch from tiles[0].condition.
    std::vector<std::int32_t> region_labels;
    std::vector<auxiliary_image> auxiliary;  ///< cropped per tile into tile_batch::auxiliary
};

/// The engine's denoiser, tiled. Construction builds the quadtree, the model tiles and the field; each call
/// runs one evaluation. Not thread-safe; one instance per image being sampled.
class tiled_denoiser {
public:
    /// Throws quadflow::invalid_argument (a std::runtime_error) for bad settings, naming the field and value.
    tiled_denoiser(batch_denoiser model, const tiling_settings& settings);
    tiled_denoiser(tiled_denoiser&&) noexcept;
    tiled_denoiser& operator=(tiled_denoiser&&) noexcept;
    ~tiled_denoiser();

    /// The engine's call: writes the denoised estimate of the latent `x` (C x H x W, the original's size) at
    /// `sigma` into `denoised` (same size; may alias `x`). `step` is numbered as settings.numbering says.
    void operator()(const float* x, float sigma, int step, float* denoised);

    int model_tile_count() const;          ///< tiles sent to the model (the model-tile layout)
    int strength_tile_count() const;       ///< leaves of the quadtree that paints the strengths
    int smallest_model_tile() const;       ///< smallest side of a model tile's core, latent px
    std::int64_t model_calls() const;      ///< batches sent to the engine's model so far
    std::int64_t tiles_evaluated() const;  ///< tiles sent so far

private:
    struct state;
    std::unique_ptr<state> state_;
};

/// stable-diffusion.cpp's img2img truncation of a schedule of N steps (N + 1 sigmas) at `strength` in (0, 1]:
/// t_enc = int(N * strength), minus 1 when it equals N; the sampled schedule is sigmas[N - t_enc - 1 :]
/// (src/stable-diffusion.cpp, prepare_image_generation_latents). strength 1 keeps the whole schedule.
std::vector<float> sdcpp_img2img_schedule(const std::vector<float>& sigmas, float strength);

}  // namespace quadflow::engine
