// Tests of field/batch_plan.hpp, the planner the CPU and CUDA fields share: rank order, batches, chunks and arena
// slots.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "field_fixtures.hpp"
#include "quadflow/field/batch_plan.hpp"
#include "quadflow/field/shape_batches.hpp"

using namespace quadflow;
using fixtures::grid_layout;

namespace {

std::int64_t elements_of(const tile::layout_tile& t, std::int64_t channels) {
    return t.padded.w * t.padded.h * channels;
}

/// Checks one plan against its definition; `arena` is the size given to the planner.
void check_plan(const tile::layout& l, std::int64_t channels, int batch_size, std::int64_t arena,
                const std::function<bool(std::size_t)>& needs_model) {
    field::batch_plan p(l, channels, batch_size, arena);
    std::vector<std::int64_t> order;
    for (const field::shape_batch& g : field::make_shape_batches(l, 1 << 30))
        order.insert(order.end(), g.tiles.begin(), g.tiles.end());
    CHECK(p.rank_order() == order);
    std::int64_t full = 0, all = 0;
    for (const field::shape_batch& g : p.groups())
        full += (static_cast<std::int64_t>(g.tiles.size()) + batch_size - 1) / batch_size;
    for (const tile::layout_tile& t : l.tiles) all += elements_of(t, channels);
    CHECK(p.full_batches() == full);
    CHECK(p.all_tile_elements() == all);

    for (int round = 0; round < 2; ++round) {  // a second plan starts from scratch
        std::vector<std::size_t> asked;
        p.plan([&](std::size_t t) {
            asked.push_back(t);
            return needs_model(t);
        });
        CHECK(asked == std::vector<std::size_t>(order.begin(), order.end()));  // each tile once, in rank order
        std::vector<std::int64_t> expected;
        for (std::int64_t t : order)
            if (needs_model(static_cast<std::size_t>(t))) expected.push_back(t);
        CHECK(std::vector<std::int64_t>(p.placed().begin(), p.placed().end()) == expected);
        CHECK(p.skipped_some() == (expected.size() < order.size()));
        if (expected.size() == order.size()) CHECK(static_cast<std::int64_t>(p.batches().size()) == full);

        // Batches cover placed() in order, each within one group and at most batch_size tiles.
        std::int64_t next = 0;
        for (const field::batch_plan::batch& b : p.batches()) {
            CHECK(b.first == next);
            CHECK(b.count >= 1);
            CHECK(b.count <= batch_size);
            const field::shape_batch& g = p.groups()[static_cast<std::size_t>(b.group)];
            for (std::int64_t i = b.first; i < b.first + b.count; ++i) {
                const auto t = p.placed()[static_cast<std::size_t>(i)];
                CHECK(std::find(g.tiles.begin(), g.tiles.end(), t) != g.tiles.end());
                CHECK(p.slot(static_cast<std::size_t>(t)) ==
                      b.offset + (i - b.first) * elements_of(l.tiles[static_cast<std::size_t>(t)], channels));
            }
            next += b.count;
        }
        CHECK(next == static_cast<std::int64_t>(expected.size()));

        // Chunks cover the batches in order; within a chunk slots do not overlap and fit the arena.
        std::int64_t batch_next = 0, tile_next = 0;
        for (const field::batch_plan::chunk& ch : p.chunks()) {
            CHECK(ch.first_batch == batch_next);
            CHECK(ch.first_tile == tile_next);
            std::int64_t end = 0;
            for (std::int64_t i = ch.first_tile; i < ch.first_tile + ch.tiles; ++i) {
                const auto t = static_cast<std::size_t>(p.placed()[static_cast<std::size_t>(i)]);
                CHECK(p.slot(t) == end);
                end += elements_of(l.tiles[t], channels);
            }
            CHECK(end <= p.arena_capacity());
            batch_next += ch.batches;
            tile_next += ch.tiles;
        }
        CHECK(batch_next == static_cast<std::int64_t>(p.batches().size()));
        if (arena == field::batch_plan::unbounded_arena) CHECK(p.chunks().size() <= 1);
        for (std::size_t t = 0; t < l.tiles.size(); ++t)
            if (!needs_model(t)) CHECK(p.slot(t) == -1);

        // Rank ranges: from 0 to every tile, one per chunk (one in all when no tile needs the model).
        const std::vector<std::int64_t>& ranks = p.chunk_rank_begin();
        CHECK(ranks.size() == std::max<std::size_t>(p.chunks().size(), 1) + 1);
        CHECK(ranks.front() == 0);
        CHECK(ranks.back() == static_cast<std::int64_t>(order.size()));
        CHECK(std::is_sorted(ranks.begin(), ranks.end()));
    }
}

}  // namespace

TEST_CASE("batch_plan: batches of one padded shape in rank order, chunks that fit the arena, slots") {
    tile::layout mixed = grid_layout(3, 3, 8, 3, {1.0});
    mixed.tiles[4].padded = rect{5, 5, 11, 11};  // another padded shape: another group
    mixed.tiles[7].padded = rect{5, 13, 11, 11};
    const std::vector<std::function<bool(std::size_t)>> predicates = {
        [](std::size_t) { return true; }, [](std::size_t) { return false; }, [](std::size_t t) { return t % 2 == 1; },
        [](std::size_t t) { return t != 0 && t != 4; }};
    for (const tile::layout& l : {grid_layout(4, 3, 4, 2, {1.0}), mixed})
        for (int batch_size : {1, 2, 3, 100})
            for (std::int64_t arena :
                 {std::int64_t{1}, std::int64_t{500}, std::int64_t{2000}, field::batch_plan::unbounded_arena})
                for (std::size_t k = 0; k < predicates.size(); ++k) {
                    CAPTURE(l.tiles.size());
                    CAPTURE(batch_size);
                    CAPTURE(arena);
                    CAPTURE(k);
                    check_plan(l, 2, batch_size, arena, predicates[k]);
                }
}

TEST_CASE("batch_plan: the arena holds one full batch at least and every tile at most") {
    const tile::layout l = grid_layout(4, 3, 4, 2, {1.0});  // 12 tiles of 8 x 8 px
    CHECK(field::batch_plan(l, 2, 3, 1).arena_capacity() == 3 * 8 * 8 * 2);
    CHECK(field::batch_plan(l, 2, 3, 1000).arena_capacity() == 1000);
    CHECK(field::batch_plan(l, 2, 3, 1 << 20).arena_capacity() == 12 * 8 * 8 * 2);
    CHECK(field::batch_plan(l, 2, 3).arena_capacity() == 12 * 8 * 8 * 2);
    CHECK_THROWS_WITH_AS(field::batch_plan(l, 2, 3, 0), "arena_elements = 0: must be >= 1", invalid_argument);
    CHECK_THROWS_WITH_AS(field::batch_plan(l, 2, 0), "tile_batch_size = 0: must be >= 1", invalid_argument);
}

TEST_CASE("batch_plan::place_by_owner: each rank's batches in one range, in rank order; slots follow their batch") {
    tile::layout mixed = grid_layout(3, 3, 8, 3, {1.0});
    mixed.tiles[4].padded = rect{5, 5, 11, 11};
    const std::int64_t channels = 2;
    for (int batch_size : {1, 2, 4}) {
        CAPTURE(batch_size);
        field::batch_plan p(mixed, channels, batch_size);
        p.plan([](std::size_t t) { return t != 2; });
        const std::size_t batches = p.batches().size();
        REQUIRE(batches >= 3);
        // Rank 2 owns no batch; ranks 0 and 1 alternate from the last batch.
        std::vector<int> owner(batches);
        for (std::size_t i = 0; i < batches; ++i) owner[i] = static_cast<int>((batches - i) % 2);
        std::vector<std::int64_t> counts(3, -7);
        p.place_by_owner(owner, counts);
        CHECK(counts[2] == 0);
        std::int64_t total = 0;
        for (const field::batch_plan::batch& b : p.batches()) total += p.batch_elements(b);
        CHECK(counts[0] + counts[1] == total);
        // Walking rank 0's batches, then rank 1's, in batch order, visits the arena from 0 without gaps.
        std::int64_t at = 0;
        for (int r = 0; r < 3; ++r)
            for (std::size_t i = 0; i < batches; ++i) {
                if (owner[i] != r) continue;
                const field::batch_plan::batch& b = p.batches()[i];
                CHECK(b.offset == at);
                for (std::int64_t k = 0; k < b.count; ++k) {
                    const auto t = static_cast<std::size_t>(p.placed()[static_cast<std::size_t>(b.first + k)]);
                    CHECK(p.slot(t) == b.offset + k * elements_of(mixed.tiles[t], channels));
                }
                at += p.batch_elements(b);
            }
        CHECK(at == total);
        CHECK(p.slot(2) == -1);
    }
    field::batch_plan p(mixed, channels, 1);
    p.plan([](std::size_t) { return true; });
    std::vector<std::int64_t> counts(2);
    CHECK_THROWS_WITH_AS(p.place_by_owner(std::vector<int>(3, 0), counts),
                         "owner.size() = 3: must be batches().size() = 9", invalid_argument);
    CHECK_THROWS_WITH_AS(p.place_by_owner(std::vector<int>(9, 2), counts), "owner[0] = 2: must be in [0, 2)",
                         invalid_argument);
    field::batch_plan chunked(mixed, channels, 1, 200);
    chunked.plan([](std::size_t) { return true; });
    CHECK_THROWS_WITH_AS(chunked.place_by_owner(std::vector<int>(9, 0), counts),
                         doctest::Contains("place_by_owner needs an unbounded arena"), invalid_argument);
}
