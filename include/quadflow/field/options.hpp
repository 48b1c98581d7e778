// quadflow field options and statistics: what configures a tiled field (CPU or CUDA) and the work it counts.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "quadflow/blend/weights.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/core/thread_pool.hpp"
#include "quadflow/field/batch_exchange.hpp"
#include "quadflow/schedule/strength.hpp"

namespace quadflow::field {

/// A user image the fields crop per tile next to the latent and hand to the model (batch_request::auxiliary): a
/// control image at image resolution, an inpainting mask, a depth map. Rows and columns are `scale` per latent pixel;
/// each tile's crop is its padded rectangle times `scale`, reflected past the canvas as the latent is
/// (quadflow::reflect_scaled_index).
struct auxiliary_canvas {
    /// (1 or N) x C x (H * scale) x (W * scale), contiguous: host memory for field::tiled_field, device memory for
    /// cuda::device_tiled_field. Read at every evaluation: keep it alive.
    const_view data;
    /// Pixels per latent pixel: the layout's latent_scale for an image-resolution image, 1 at latent resolution.
    int scale = 1;
};

struct field_options {
    blend::weight_params weights{blend::weight_kind::gaussian, 0.01f};
    int tile_batch_size = 4;
    /// Threads for gathering and blending (the model is always called from the calling thread).
    /// Results are bit-identical for any value.
    int threads = 1;
    /// How long a pool thread with no task polls for the next one before it sleeps (0: sleep at once). An
    /// evaluation runs the pool about twice per chunk, and waking a sleeping thread takes tens of
    /// microseconds on a virtual machine; see thread_pool::default_spin. Only used when threads > 1.
    std::chrono::microseconds pool_spin = thread_pool::default_spin;
    /// Elements of model input (and as many of output) kept at once (2 MiB each by default, sized to stay
    /// in cache); at least one batch is always kept, and never more than every tile needs. Results are
    /// bit-identical for any value.
    std::int64_t arena_elements = std::int64_t{1} << 19;
    /// The schedule the sampler runs (sigma convention). Needed by `strength` (start step of each
    /// tile), `mask` (tau), `progress_ramp` (step / N) and the seed_* policies (i / N, i the index of the nearest
    /// sigma); optional for the others.
    std::vector<double> sigmas;
    /// How a tile's strength d maps to its start step on `sigmas` (the `strength` policy).
    schedule::strength_rule strength_rule = schedule::strength_rule::diffusers;
    /// Fill each batch's output with NaN before calling the model, so that an element the model leaves
    /// unwritten is reported (tile, channel, pixel) instead of blending stale values. One extra write of the
    /// batch's output; false skips it, for a model known to write every element or a benchmark of the
    /// field's own cost.
    bool fill_outputs_with_nan = true;
    /// Images cropped per tile for the model, in this order (auxiliary_canvas).
    std::vector<auxiliary_canvas> auxiliary;
    /// Set: this field is one rank of a distributed field (batch_exchange.hpp, quadflow/distributed). Every rank
    /// builds its field with the same layout, options and canvas and calls it with the same x; each calls its model
    /// only for its share of the batches, and every rank gets the single-process field's velocity, bit for bit.
    /// The arena then holds every tile (one exchange per evaluation), whatever arena_elements says.
    std::shared_ptr<batch_exchange> exchange;
};

/// Work counters, accumulated over all evaluations.
struct field_stats {
    std::int64_t evaluations = 0;      ///< calls of the field
    std::int64_t model_calls = 0;      ///< batches sent to the model
    std::int64_t calls_saved = 0;      ///< batches not sent because no tile in them needed the model
    std::int64_t tiles_evaluated = 0;  ///< tiles sent to the model
    std::int64_t tile_pixels = 0;      ///< padded tile pixels (h * w, channels counted once) sent
    /// Distributed (field_options::exchange): bytes of model output this rank received from the others. The
    /// counters above then count this rank's own model calls.
    std::int64_t bytes_received = 0;
};

}  // namespace quadflow::field
