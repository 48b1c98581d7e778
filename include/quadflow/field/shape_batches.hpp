// quadflow shape batches: tiles of identical padded shape (and condition) grouped into batches of at most
// tile_batch_size tiles; the batch plan (batch_plan.hpp) makes the fields' model calls from them.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::field {

/// Tiles that go to the model in one call: all share the padded shape width x height (latent px) and, unless the
/// batches were made with mixed conditions, the condition index.
struct shape_batch {
    std::int64_t width = 0, height = 0;
    std::vector<std::int64_t> tiles;  ///< indices into layout.tiles, increasing
    std::int32_t condition = 0;       ///< the tiles' condition index; -1 when conditions may mix
};

/// Whether batches may hold tiles of different condition indices (a model with mixed_conditions).
enum class condition_mixing { separate, mixed };

/// Batches of the tiles for which `included(tile)` is true (e.g. the tiles that need a model call this step):
/// tiles grouped by padded shape and (condition_mixing::separate) condition index, groups in order of first appearance,
/// tiles in index order, each group cut into batches of at most tile_batch_size.
template <std::predicate<const tile::layout_tile&> Predicate>
std::vector<shape_batch> make_shape_batches(const tile::layout& l, int tile_batch_size, Predicate&& included,
                                            condition_mixing mixing = condition_mixing::separate) {
    require(tile_batch_size >= 1, "tile_batch_size", tile_batch_size, "must be >= 1");
    std::map<std::tuple<std::int64_t, std::int64_t, std::int32_t>, std::size_t> group_of_key;
    std::vector<shape_batch> groups;
    for (std::size_t i = 0; i < l.tiles.size(); ++i) {
        const tile::layout_tile& t = l.tiles[i];
        if (!included(t)) continue;
        const std::int32_t condition = mixing == condition_mixing::mixed ? -1 : t.condition;
        const auto [it, added] = group_of_key.try_emplace({t.padded.w, t.padded.h, condition}, groups.size());
        if (added) groups.push_back({t.padded.w, t.padded.h, {}, condition});
        groups[it->second].tiles.push_back(static_cast<std::int64_t>(i));
    }
    std::vector<shape_batch> batches;
    const auto size = static_cast<std::size_t>(tile_batch_size);
    for (const shape_batch& group : groups)
        for (std::size_t first = 0; first < group.tiles.size(); first += size) {
            const std::size_t last = std::min(first + size, group.tiles.size());
            batches.push_back({group.width,
                               group.height,
                               {group.tiles.begin() + static_cast<std::ptrdiff_t>(first),
                                group.tiles.begin() + static_cast<std::ptrdiff_t>(last)},
                               group.condition});
        }
    return batches;
}

/// Batches of every tile of the layout.
inline std::vector<shape_batch> make_shape_batches(const tile::layout& l, int tile_batch_size,
                                                   condition_mixing mixing = condition_mixing::separate) {
    return make_shape_batches(
        l, tile_batch_size, [](const tile::layout_tile&) { return true; }, mixing);
}

struct shape_batch_stats {
    std::int64_t batches = 0;      ///< model calls
    std::int64_t tiles = 0;        ///< tiles over all batches
    std::int64_t tile_pixels = 0;  ///< latent pixels sent to the model (padded areas)
};

inline shape_batch_stats stats_of(const std::vector<shape_batch>& batches) {
    shape_batch_stats s;
    for (const shape_batch& b : batches) {
        const auto count = static_cast<std::int64_t>(b.tiles.size());
        ++s.batches;
        s.tiles += count;
        s.tile_pixels += count * b.width * b.height;
    }
    return s;
}

}  // namespace quadflow::field
