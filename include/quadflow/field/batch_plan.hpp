// quadflow batch plan: which tiles need the model this evaluation, in batches of equal padded shape in rank order,
// placed in an arena.
//
// One planner for field::tiled_field (CPU) and cuda::device_tiled_field. Built once per layout:
//   groups      one per padded shape and condition index (one per padded shape for a model that takes mixed
//               conditions), in order of first appearance, tiles in index order (field::make_shape_batches with an
//               unbounded batch size);
//   rank order  every tile, group after group: the order in which the CPU field adds tiles to the canvas.
// Per evaluation, plan(needs_model) asks each tile once, in rank order, whether it needs the model. The tiles
// that do are cut into batches of at most tile_batch_size tiles of one group, and the batches are placed in
// the arena one after the other: a batch starts a new chunk (back at offset 0) when a full batch of its group
// would not fit behind the previous one. A tile's slot is the element offset of its model input and output
// (padded.h x padded.w x C) in the arena. With unbounded_arena (the CUDA field: its batch buffers hold every
// tile) everything is one chunk and slots never overlap. After construction nothing is allocated.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/field/batch_exchange.hpp"
#include "quadflow/field/shape_batches.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::field {

class batch_plan {
public:
    /// Tiles that go to the model in one call: placed()[first .. first + count), all of groups()[group].
    struct batch {
        std::int64_t group = 0;
        std::int64_t first = 0;  ///< into placed()
        std::int64_t count = 0;
        std::int64_t offset = 0;  ///< element offset into the arena (of the batch's first tile)
    };
    /// Batches that share the arena at once: batches()[first_batch ..) and their tiles placed()[first_tile ..).
    struct chunk {
        std::int64_t first_batch = 0, batches = 0;
        std::int64_t first_tile = 0, tiles = 0;
    };
    /// An arena without a size limit: one chunk, one place per tile.
    static constexpr std::int64_t unbounded_arena = std::numeric_limits<std::int64_t>::max();

    batch_plan() = default;
    /// `channels`: C of the canvas. `arena_elements`: the arena's size in elements (>= 1); it is raised to one
    /// full batch of the largest group and capped at what every tile needs (arena_capacity()).
    /// `mixing`: whether a batch may hold tiles of different condition indices (model::accepts_mixed_conditions).
    batch_plan(const tile::layout& layout, std::int64_t channels, int tile_batch_size,
               std::int64_t arena_elements = unbounded_arena,
               field::condition_mixing mixing = field::condition_mixing::separate)
        : tile_batch_size_(tile_batch_size), channels_(channels) {
        require(tile_batch_size >= 1, "tile_batch_size", tile_batch_size, "must be >= 1");
        // One group per padded shape (and condition), tiles in index order: make_shape_batches, unbounded batch size.
        groups_ = field::make_shape_batches(layout, std::numeric_limits<int>::max(), mixing);
        require(arena_elements >= 1, "arena_elements", arena_elements, "must be >= 1");
        const std::size_t tiles = layout.tiles.size();
        std::int64_t largest_batch = 0;
        rank_order_.reserve(tiles);
        for (const field::shape_batch& g : groups_) {
            const auto count = static_cast<std::int64_t>(g.tiles.size());
            largest_batch =
                std::max(largest_batch, std::min<std::int64_t>(count, tile_batch_size) * g.width * g.height * channels);
            all_tile_elements_ += count * g.width * g.height * channels;
            full_batches_ += (count + tile_batch_size - 1) / tile_batch_size;
            rank_order_.insert(rank_order_.end(), g.tiles.begin(), g.tiles.end());
        }
        element_size_.reserve(groups_.size());
        for (const field::shape_batch& g : groups_) element_size_.push_back(g.width * g.height * channels);
        capacity_ = arena_elements == unbounded_arena
                        ? unbounded_arena
                        : std::max(largest_batch, std::min(arena_elements, all_tile_elements_));
        batches_.reserve(static_cast<std::size_t>(full_batches_));
        chunks_.reserve(static_cast<std::size_t>(full_batches_));
        chunk_rank_begin_.reserve(static_cast<std::size_t>(full_batches_) + 1);
        placed_.assign(tiles, 0);
        slot_.assign(tiles, -1);
    }

    /// Groups of equal padded shape (rank order: group after group, tiles in index order).
    const std::vector<field::shape_batch>& groups() const { return groups_; }
    /// Every tile of the layout, in rank order.
    const std::vector<std::int64_t>& rank_order() const { return rank_order_; }
    /// Model batches of one evaluation when every tile needs the model.
    std::int64_t full_batches() const { return full_batches_; }
    /// Elements every tile needs (padded.h * padded.w * C summed over the layout).
    std::int64_t all_tile_elements() const { return all_tile_elements_; }
    /// Elements the arena must hold: every slot + tile elements stays below it.
    std::int64_t arena_capacity() const { return capacity_ == unbounded_arena ? all_tile_elements_ : capacity_; }

    /// Plans one evaluation: `needs_model(t)` (t: tile index, std::size_t) is called once per tile, in rank order.
    template <class NeedsModel>
    void plan(NeedsModel&& needs_model) {
        batches_.clear();
        chunks_.clear();
        chunk_rank_begin_.clear();
        std::fill(slot_.begin(), slot_.end(), std::int64_t{-1});
        skipped_ = false;
        std::int64_t offset = 0, placed = 0, rank = 0;
        for (std::size_t g = 0; g < groups_.size(); ++g) {
            const field::shape_batch& group = groups_[g];
            const std::int64_t elements = element_size_[g];
            for (std::int64_t t : group.tiles) {
                const auto ti = static_cast<std::size_t>(t);
                const std::int64_t this_rank = rank++;
                if (!needs_model(ti)) {
                    skipped_ = true;
                    continue;
                }
                const bool new_batch = batches_.empty() || batches_.back().group != static_cast<std::int64_t>(g) ||
                                       batches_.back().count == tile_batch_size_;
                if (new_batch) {
                    const std::int64_t batch_elements =
                        std::min<std::int64_t>(tile_batch_size_, static_cast<std::int64_t>(group.tiles.size())) *
                        elements;
                    if (chunks_.empty() || offset + batch_elements > capacity_) {
                        chunks_.push_back(chunk{static_cast<std::int64_t>(batches_.size()), 0, placed, 0});
                        chunk_rank_begin_.push_back(this_rank);
                        offset = 0;
                    }
                    batches_.push_back(batch{static_cast<std::int64_t>(g), placed, 0, offset});
                    ++chunks_.back().batches;
                }
                placed_[static_cast<std::size_t>(placed++)] = t;
                ++batches_.back().count;
                ++chunks_.back().tiles;
                slot_[ti] = offset;
                offset += elements;
            }
        }
        placed_count_ = placed;
        // Chunk k covers the tiles of ranks [chunk_rank_begin()[k], chunk_rank_begin()[k + 1]): its own model
        // tiles and the tiles between them that need no model; the first chunk starts at rank 0.
        if (chunk_rank_begin_.empty()) chunk_rank_begin_.push_back(0);
        chunk_rank_begin_.front() = 0;
        chunk_rank_begin_.push_back(static_cast<std::int64_t>(rank_order_.size()));
    }

    /// Distributed fields (one chunk: an unbounded arena): moves the batches in the arena so that each rank's
    /// batches (owner[i]: the rank of batches()[i]) sit together, rank 0's first, each rank's in batch order;
    /// the batch order, and so the blend's, is unchanged. Writes each rank's element count to rank_elements
    /// (size: the number of ranks): rank r's outputs are the one range starting at the sum of the counts before it,
    /// which an all-gather fills in place.
    void place_by_owner(std::span<const int> owner, std::span<std::int64_t> rank_elements) {
        require(chunks_.size() <= 1, "chunks", chunks_.size(), "must be <= 1: place_by_owner needs an unbounded arena");
        require(owner.size() == batches_.size(), "owner.size()", owner.size(),
                "must be batches().size() = " + std::to_string(batches_.size()));
        std::fill(rank_elements.begin(), rank_elements.end(), std::int64_t{0});
        for (std::size_t i = 0; i < owner.size(); ++i) {
            require(owner[i] >= 0 && static_cast<std::size_t>(owner[i]) < rank_elements.size(),
                    "owner[" + std::to_string(i) + "]", owner[i],
                    "must be in [0, " + std::to_string(rank_elements.size()) + ")");
            rank_elements[static_cast<std::size_t>(owner[i])] += batch_elements(batches_[i]);
        }
        std::int64_t start = 0;
        for (std::int64_t& elements : rank_elements) start += std::exchange(elements, start);  // now: rank starts
        for (std::size_t i = 0; i < batches_.size(); ++i) {
            batch& b = batches_[i];
            std::int64_t& at = rank_elements[static_cast<std::size_t>(owner[i])];
            b.offset = at;
            const std::int64_t elements = element_size_[static_cast<std::size_t>(b.group)];
            for (std::int64_t k = 0; k < b.count; ++k)
                slot_[static_cast<std::size_t>(placed_[static_cast<std::size_t>(b.first + k)])] = at + k * elements;
            at += batch_elements(b);
        }
        // rank_elements now holds each rank's end; back to counts.
        for (std::size_t r = rank_elements.size(); r-- > 0;) rank_elements[r] -= r == 0 ? 0 : rank_elements[r - 1];
    }
    /// Distributed fields: assigns the evaluation's batches to `ranks` ranks by tile-pixels (field::rank_assignment,
    /// the same plan on every rank) and places them by owner (place_by_owner, which fills rank_elements). Returns
    /// each batch's rank. Allocates only when an evaluation has more batches than any before.
    std::span<const int> assign_ranks(int ranks, std::span<std::int64_t> rank_elements) {
        costs_.clear();
        for (const batch& b : batches_) costs_.push_back(batch_elements(b) / channels_);
        const std::span<const int> owner = rank_assignment_.assign(costs_, ranks);
        place_by_owner(owner, rank_elements);
        return owner;
    }
    /// Elements of batch `b`'s model input (and output) in the arena.
    std::int64_t batch_elements(const batch& b) const {
        return b.count * element_size_[static_cast<std::size_t>(b.group)];
    }

    /// The evaluation's model batches, in rank order.
    const std::vector<batch>& batches() const { return batches_; }
    /// The evaluation's chunks (none when no tile needs the model).
    const std::vector<chunk>& chunks() const { return chunks_; }
    /// Rank where each chunk's range begins, then the number of tiles: one range more than chunks() when
    /// there are chunks, the single range [0, tiles) when there are none.
    const std::vector<std::int64_t>& chunk_rank_begin() const { return chunk_rank_begin_; }
    /// The tiles sent to the model, in batch order.
    std::span<const std::int64_t> placed() const { return {placed_.data(), static_cast<std::size_t>(placed_count_)}; }
    /// Arena element offset of tile `t`'s model input and output, or -1 when it needs no model.
    std::int64_t slot(std::size_t t) const { return slot_[t]; }
    /// Whether some tile needs no model this evaluation.
    bool skipped_some() const { return skipped_; }

private:
    int tile_batch_size_ = 1;
    std::int64_t channels_ = 1;
    std::vector<field::shape_batch> groups_;
    std::vector<std::int64_t> element_size_;  ///< per group: padded.h * padded.w * C
    std::vector<std::int64_t> rank_order_;
    std::int64_t full_batches_ = 0, all_tile_elements_ = 0, capacity_ = 0;
    std::vector<batch> batches_;
    std::vector<chunk> chunks_;
    std::vector<std::int64_t> chunk_rank_begin_;
    std::vector<std::int64_t> placed_;
    std::int64_t placed_count_ = 0;
    std::vector<std::int64_t> slot_;
    bool skipped_ = false;
    std::vector<std::int64_t> costs_;  ///< assign_ranks: tile-pixels per batch
    rank_assignment rank_assignment_;
};

}  // namespace quadflow::field
