// quadflow field internals: a model call as both tiled fields (CPU and CUDA) make it: the batch's request, its
// counters, the ranks' failure check and output all-gather of a distributed field, and the non-finite output message.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/field/batch_exchange.hpp"
#include "quadflow/field/batch_plan.hpp"
#include "quadflow/field/detail/tile_facts.hpp"
#include "quadflow/field/options.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::field::detail {

/// One model batch's memory: `count` tiles of one shape group at element `offset` of the batch buffers.
struct batch_views {
    const_view input;
    mutable_view output;
};

/// Batch `b`'s input and output in the batch buffers `inputs` and `outputs` (memory `space`), and each auxiliary
/// canvas's crops in its arena (`arena_of(k)`: the crops' buffer of canvas k), written into `aux_views`.
template <class ArenaOf>
batch_views batch_views_of(const batch_plan::batch& b, const field::shape_batch& group, std::int64_t channels,
                           const float* inputs, float* outputs, memory_space space,
                           const std::vector<auxiliary_canvas>& auxiliary, ArenaOf&& arena_of,
                           std::vector<const_view>& aux_views) {
    const shape4 batch_shape{b.count, channels, group.height, group.width};
    for (std::size_t k = 0; k < aux_views.size(); ++k)
        aux_views[k] =
            auxiliary_batch(auxiliary[k], arena_of(k), b.offset, channels, b.count, group.height, group.width, space);
    return {const_view(inputs + b.offset, batch_shape, space), mutable_view(outputs + b.offset, batch_shape, space)};
}

/// The request of a batch whose tiles' metadata are `infos[b.first, b.first + b.count)`.
inline model::batch_request batch_request_of(const batch_plan::batch& b, const_view input, double sigma, int step,
                                             std::span<const model::tile_info> infos, const shape4& canvas,
                                             int latent_scale, std::span<const const_view> auxiliary) {
    return model::batch_request{input,
                                sigma,
                                step,
                                infos.subspan(static_cast<std::size_t>(b.first), static_cast<std::size_t>(b.count)),
                                model::canvas_info{canvas.w, canvas.h, latent_scale},
                                auxiliary};
}

/// Counts one model call of batch `b` (tiles of the group's size) into `stats`.
inline void count_model_call(field_stats& stats, const batch_plan::batch& b, const field::shape_batch& group) {
    ++stats.model_calls;
    stats.tiles_evaluated += b.count;
    stats.tile_pixels += b.count * group.width * group.height;
}

/// Every rank's status after calling its models, all-gathered: when some rank's model failed, every rank throws the
/// same model_error, naming the first such rank and its message.
inline void throw_if_a_rank_failed(std::span<const rank_status> statuses, int step, double sigma) {
    const int ranks = static_cast<int>(statuses.size());
    for (int r = 0; r < ranks; ++r)
        if (statuses[static_cast<std::size_t>(r)].failed)
            throw model_error("the model failed on rank " + std::to_string(r) + " of " + std::to_string(ranks) +
                              " at step " + std::to_string(step) + ", sigma " + quadflow::detail::to_text(sigma) +
                              ": " + statuses[static_cast<std::size_t>(r)].message_text());
}

/// All-gathers the ranks' model outputs in place: rank r's `counts[r]` floats lie after those of the ranks before it
/// in `outputs` (host or device memory, as the exchange takes it); this rank's are already there. Adds the bytes
/// received to `stats`.
inline void gather_rank_outputs(batch_exchange& exchange, float* outputs, std::span<const std::int64_t> counts,
                                field_stats& stats) {
    const auto me = static_cast<std::size_t>(exchange.rank());
    std::int64_t total = 0, mine_at = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
        if (r == me) mine_at = total;
        total += counts[r];
    }
    const std::span<float> all(outputs, static_cast<std::size_t>(total));
    exchange.all_gather_v(all.subspan(static_cast<std::size_t>(mine_at), static_cast<std::size_t>(counts[me])), all,
                          counts);
    stats.bytes_received += (total - counts[me]) * std::int64_t{sizeof(float)};
}

/// Appended to a non-finite model-output error: a NaN output may be an element the model never wrote, since
/// the fields fill each batch's output with NaN before calling the model.
inline std::string unwritten_hint(float prediction) {
    return std::isnan(prediction) ? " (NaN: the model wrote NaN there or did not write that element at all)" : "";
}

/// Where a model output that gives a non-finite flow velocity lies: canvas pixel (x, y) of channel `channel` in
/// `tile` (of image `image`; -1: a field of one image, which the message does not name).
struct non_finite_output {
    float prediction = 0, velocity = 0;
    const tile::layout_tile* tile = nullptr;
    std::int64_t image = -1, channel = 0, x = 0, y = 0;
};

/// The model_error for `o` at step `step`, noise level `sigma`.
inline model_error non_finite_output_error(const non_finite_output& o, int step, double sigma) {
    return model_error("model output " + quadflow::detail::to_text(o.prediction) +
                       " gives a non-finite flow velocity (" + quadflow::detail::to_text(o.velocity) + ") at step " +
                       std::to_string(step) + ", sigma " + quadflow::detail::to_text(sigma) + ", in tile " +
                       std::to_string(o.tile->id) + " " + to_string(o.tile->padded) +
                       (o.image >= 0 ? ", image " + std::to_string(o.image) : std::string()) + ", channel " +
                       std::to_string(o.channel) + ", pixel (x=" + std::to_string(o.x) + ", y=" + std::to_string(o.y) +
                       ")" + unwritten_hint(o.prediction));
}

}  // namespace quadflow::field::detail
