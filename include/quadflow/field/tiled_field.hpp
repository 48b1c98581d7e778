// quadflow tiled velocity field: the user's tile model over a layout, blended into one canvas velocity.
//
// Per evaluation (sigma convention, v = dx/dsigma = noise - x0):
//   1. ask the policy which tiles need the model at this step; plan batches of equal padded shape,
//      grouped into chunks that fit a small arena (batch_plan.hpp; the memory is that of a few batches, not
//      the image);
//   2. per chunk: gather its padded tiles (gather.hpp: mirror reflection outside the canvas; the copy checks the canvas
//      state for NaN/Inf, or one pass does before the first model call where that is cheaper) and call the
//      model per batch; then, per channel plane, add W * v of the
//      tiles of the chunk's rank range: W is the tile's weight over the summed weights at the pixel (fixed
//      per layout, blend_plan), v the model's prediction converted to flow velocity (NaN/Inf rejected,
//      naming tile and step) with the policy applied, or the policy's term alone for tiles that need no
//      model. A tile zeroes the pixels it is the first to reach (sum_starts.hpp), so there is neither a
//      zero-fill nor a normalisation pass over the canvas.
// Tiles are added in "rank order" (padded-shape group, then tile index), whatever the chunks, batches or
// threads (threads split channels), so results are bit-identical for any tile_batch_size, thread count
// and arena size. After construction nothing is allocated.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "quadflow/core/config.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/core/finite.hpp"
#include "quadflow/core/prefetch.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/core/thread_pool.hpp"
#include "quadflow/field/batch_plan.hpp"
#include "quadflow/field/blend_plan.hpp"
#include "quadflow/field/detail/checks.hpp"
#include "quadflow/field/detail/model_calls.hpp"
#include "quadflow/field/detail/tile_facts.hpp"
#include "quadflow/field/gather.hpp"
#include "quadflow/field/options.hpp"
#include "quadflow/field/sum_starts.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/prediction/prediction.hpp"
#include "quadflow/schedule/strength.hpp"
#include "quadflow/schedule/validate.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::field {

template <model::tile_model M, policy::velocity_policy P>
class tiled_field {
public:
    /// `canvas`: shape of the latents the sampler will pass (N x C x H x W with H, W = the layout's).
    /// `original`: the clean latent (img2img), shape of the canvas; required when P::needs_original.
    /// `strength_map`: per-pixel strength in [0, 1], (1 or N) x 1 x H x W, for the `mask` policy.
    tiled_field(M& model, const tile::layout& layout, shape4 canvas, P policy, field_options options,
                const_view original = {}, const_view strength_map = {})
        : model_(&model), layout_(layout), canvas_(canvas), policy_(policy), options_(std::move(options)),
          original_(original), strength_map_(strength_map) {
        detail::check_construction(layout_, canvas, options_);
        require(options_.threads >= 1, "threads", options_.threads, "must be >= 1");
        require(options_.pool_spin.count() >= 0, "pool_spin", static_cast<std::int64_t>(options_.pool_spin.count()),
                "must be >= 0 microseconds");
        require(!options_.exchange || options_.exchange->memory() == memory_space::host, "exchange memory", "device",
                "field::tiled_field exchanges host memory (an MPI communicator); a device exchange (NCCL) is for "
                "cuda::device_tiled_field");
        check_inputs();
        detail::check_auxiliary(options_.auxiliary, canvas_, memory_space::host);
        blend_weights_ = blend_plan(layout_, options_.weights);
        prepare_tiles();
        prepare_groups();
        pool_ = std::make_unique<thread_pool>(options_.threads, options_.pool_spin);
    }

    /// Called by quadflow::sampler::sample before each step: evaluations until the next call belong
    /// to step `step` (Heun's corrector included). With a schedule in the options, `sigma` and `sigma_next`
    /// must be that step's (detail::check_step), so a field never runs silently on another schedule.
    void on_step(int step, double sigma, double sigma_next) {
        detail::check_step(options_.sigmas, step, sigma, sigma_next);
        step_ = step;
    }

    void operator()(const_view x, double sigma, mutable_view velocity) {
        require_contiguous_host(x, "x");
        require_contiguous_host(velocity, "velocity");
        detail::check_evaluation(x.shape(), velocity.shape(), canvas_, sigma, step_, "tiled_field",
                                 "quadflow::sampler::sample");
        detail::check_sigma_in_step(options_.sigmas, step_, sigma);
        ++stats_.evaluations;
        for (std::int64_t n = 0; n < canvas_.n; ++n) evaluate_image(x, sigma, velocity, n);
    }

    const field_stats& stats() const { return stats_; }
    const tile::layout& layout() const { return layout_; }
    /// Model batches one evaluation makes when every tile needs the model.
    std::int64_t full_batches() const { return batch_plan_.full_batches(); }

private:
    using batch = batch_plan::batch;
    using chunk = batch_plan::chunk;
    /// Per tile and evaluation: its model output in the arena (null when not sent) and, for linear
    /// policies, v = model * v_model + preserve * (x - original).
    struct tile_terms {
        const float* model_out = nullptr;
        float model = 0.0f, preserve = 0.0f;
    };

    void check_inputs() {
        if (original_.data() != nullptr) require_contiguous_host(original_, "original");
        if (strength_map_.data() != nullptr) require_contiguous_host(strength_map_, "strength_map");
        const auto values = [](const_view v) {
            return std::span<const float>(v.data(), static_cast<std::size_t>(v.data() ? v.numel() : 0));
        };
        detail::check_field_inputs<P>({canvas_, options_.sigmas, original_.data() != nullptr, original_.shape(),
                                       values(original_), strength_map_.data() != nullptr, strength_map_.shape(),
                                       values(strength_map_)});
    }

    void prepare_tiles() {
        facts_ = detail::tile_facts_of(
            layout_, options_.sigmas, options_.strength_rule, strength_map_.shape().n,
            std::span<const float>(strength_map_.data(),
                                   static_cast<std::size_t>(strength_map_.data() ? strength_map_.numel() : 0)));
    }

    void prepare_groups() {
        batch_plan_ = batch_plan(
            layout_, canvas_.c, options_.tile_batch_size,
            options_.exchange ? batch_plan::unbounded_arena : options_.arena_elements,
            model::accepts_mixed_conditions<M> ? field::condition_mixing::mixed : field::condition_mixing::separate);
        sum_starts_ = sum_starts(layout_, batch_plan_.rank_order());
        std::int64_t gathered_in_canvas = 0;
        for (const tile::layout_tile& tl : layout_.tiles)
            gathered_in_canvas += clipped(tl.padded, canvas_.w, canvas_.h).area();
        check_in_gather_ = gathered_in_canvas <= 2 * canvas_.w * canvas_.h;
        input_arena_.assign(static_cast<std::size_t>(batch_plan_.arena_capacity()), 0.0f);
        output_arena_.assign(static_cast<std::size_t>(batch_plan_.arena_capacity()), 0.0f);
        terms_.assign(facts_.size(), tile_terms{});
        batch_infos_.assign(facts_.size(), model::tile_info{});
        contexts_.resize(facts_.size());
        // An auxiliary arena k holds, per latent arena element of channel 0, C_k * scale_k^2 values.
        const std::int64_t arena_pixels = batch_plan_.arena_capacity() / canvas_.c;
        aux_arenas_.clear();
        for (const auxiliary_canvas& a : options_.auxiliary)
            aux_arenas_.emplace_back(static_cast<std::size_t>(arena_pixels * detail::auxiliary_values_per_pixel(a)),
                                     0.0f);
        aux_views_.assign(options_.auxiliary.size(), const_view{});
    }

    policy::tile_context context(std::size_t t, double sigma, int sigma_index) const {
        return detail::tile_context_at(layout_.tiles[t], facts_[t], sigma, step_, options_.sigmas, sigma_index,
                                       original_.data() != nullptr);
    }

    /// Which tiles need the model, in batches of equal shape, in chunks that fit the arena, and where
    /// each sits in it (batch_plan); the tile_info of each model tile, and each tile's terms.
    void choose_batches(double sigma, std::int64_t n) {
        const int sigma_index = detail::nearest_sigma_index(options_.sigmas, sigma);
        for (std::size_t t = 0; t < facts_.size(); ++t) contexts_[t] = context(t, sigma, sigma_index);
        batch_plan_.plan([this](std::size_t t) { return policy_.needs_model(contexts_[t]); });
        // The canvas state is checked for NaN/Inf in one pass, or by the gather's copy when every tile is
        // gathered and the copies are not much larger than the canvas (one pass is cheaper than many short
        // checks); a tile that needs no model is not gathered, so its pixels are not checked there.
        needs_scan_ = !check_in_gather_ || batch_plan_.skipped_some();
        if (options_.exchange) {
            plan_ranks();
            needs_scan_ = true;  // each rank gathers only its own tiles; every rank must see the same x check
        }
        const std::span<const std::int64_t> placed = batch_plan_.placed();
        for (std::size_t i = 0; i < placed.size(); ++i) {
            const tile::layout_tile& tl = layout_.tiles[static_cast<std::size_t>(placed[i])];
            batch_infos_[i] = detail::tile_info_of(tl, layout_.latent_scale, n);
        }
        for (std::size_t t = 0; t < facts_.size(); ++t) {
            tile_terms& terms = terms_[t];
            terms.model_out = batch_plan_.slot(t) >= 0 ? output_arena_.data() + batch_plan_.slot(t) : nullptr;
            if constexpr (policy::linear_policy<P>) {
                const policy::linear_velocity l = policy_.linear(contexts_[t]);
                terms.model = terms.model_out ? l.model : 0.0f;
                terms.preserve = original_.data() != nullptr ? l.preserve : 0.0f;
            }
        }
    }

    /// Throws model_error for the first non-finite flow velocity among a chunk's in-canvas outputs.
    [[noreturn]] void report_non_finite(const chunk& ch, const_view x, double sigma, std::int64_t n) const {
        const prediction::kind kind = model_->prediction_kind();
        const float s = static_cast<float>(sigma);
        for (std::int64_t i = ch.first_tile; i < ch.first_tile + ch.tiles; ++i) {
            const auto t = static_cast<std::size_t>(batch_plan_.placed()[static_cast<std::size_t>(i)]);
            const rect& r = layout_.tiles[t].padded;
            const float* out = output_arena_.data() + batch_plan_.slot(t);
            const rect in = clipped(r, canvas_.w, canvas_.h);
            for (std::int64_t c = 0; c < canvas_.c; ++c)
                for (std::int64_t y = in.y; y < in.bottom(); ++y)
                    for (std::int64_t px = in.x; px < in.right(); ++px) {
                        const std::int64_t local = (c * r.h + (y - r.y)) * r.w + (px - r.x);
                        const float v = prediction::to_flow_velocity(kind, out[local], x(n, c, y, px), s);
                        if (std::isfinite(v)) continue;
                        throw detail::non_finite_output_error({out[local], v, &layout_.tiles[t], -1, c, px, y}, step_,
                                                              sigma);
                    }
        }
        throw model_error("model output is non-finite at step " + std::to_string(step_));
    }

    /// Throws invalid_argument naming the first NaN/Inf element of the canvas state `x`.
    [[noreturn]] void report_non_finite_canvas(const_view x, double sigma) const {
        const std::int64_t i = quadflow::detail::first_non_finite(x.data(), x.numel());
        throw invalid_argument("x[" + std::to_string(i) + "]", quadflow::detail::to_text(x.data()[i]),
                               "the canvas state handed to the field at step " + std::to_string(step_) + ", sigma " +
                                   quadflow::detail::to_text(sigma) + " must be finite");
    }

    void call_model(const batch& b, double sigma) {
        const field::shape_batch& group = batch_plan_.groups()[static_cast<std::size_t>(b.group)];
        const detail::batch_views views = detail::batch_views_of(
            b, group, canvas_.c, input_arena_.data(), output_arena_.data(), memory_space::host, options_.auxiliary,
            [this](std::size_t k) { return aux_arenas_[k].data(); }, aux_views_);
        const model::batch_request request = detail::batch_request_of(b, views.input, sigma, step_, batch_infos_,
                                                                      canvas_, layout_.latent_scale, aux_views_);
        prediction::require_convertible(model_->prediction_kind(), sigma);
        // An element the model leaves unwritten stays NaN, so the blend's non-finite check names its tile.
        if (options_.fill_outputs_with_nan)
            std::fill_n(views.output.data(), views.output.numel(), std::numeric_limits<float>::quiet_NaN());
        (*model_)(request, views.output);
        detail::count_model_call(stats_, b, group);
    }

    /// Distributed (field_options::exchange): assigns the evaluation's batches to ranks by tile-pixels, moves each
    /// rank's batches together in the arena (so the all-gather fills it in place) and lists this rank's tiles.
    void plan_ranks() {
        const int ranks = options_.exchange->size(), me = options_.exchange->rank();
        counts_.resize(static_cast<std::size_t>(ranks));
        owner_ = batch_plan_.assign_ranks(ranks, counts_);
        own_tiles_.clear();
        for (std::size_t i = 0; i < owner_.size(); ++i)
            if (owner_[i] == me) {
                const batch& b = batch_plan_.batches()[i];
                for (std::int64_t k = b.first; k < b.first + b.count; ++k)
                    own_tiles_.push_back(batch_plan_.placed()[static_cast<std::size_t>(k)]);
            }
    }

    /// One rank's part of the evaluation's chunk: this rank calls its model for its own batches, a status word per
    /// rank says whether any model failed (then every rank throws the same model_error), and the outputs are
    /// all-gathered into the arena in place.
    void call_models_distributed(const chunk& ch, double sigma) {
        batch_exchange& exchange = *options_.exchange;
        const int ranks = exchange.size(), me = exchange.rank();
        rank_status status;
        try {
            for (std::int64_t i = ch.first_batch; i < ch.first_batch + ch.batches; ++i)
                if (owner_[static_cast<std::size_t>(i)] == me)
                    call_model(batch_plan_.batches()[static_cast<std::size_t>(i)], sigma);
        } catch (const std::exception& e) {
            status.failed = 1;
            status.set_message(e.what());
        }
        statuses_.resize(static_cast<std::size_t>(ranks));
        exchange.all_gather(std::as_bytes(std::span<const rank_status>(&status, 1)),
                            std::as_writable_bytes(std::span<rank_status>(statuses_)));
        detail::throw_if_a_rank_failed(statuses_, step_, sigma);
        detail::gather_rank_outputs(exchange, output_arena_.data(), counts_, stats_);
    }

    struct plane_rows {
        float* v;
        const float* x;
        const float* original;
        const float* strengths;
    };

    /// Row 0 of channel plane (n, c) of each input; null where there is no original or strength map.
    plane_rows rows_of(const_view x, mutable_view velocity, std::int64_t n, std::int64_t c) const {
        return plane_rows{
            &velocity(n, c, 0, 0), &x(n, c, 0, 0), original_.data() != nullptr ? &original_(n, c, 0, 0) : nullptr,
            strength_map_.data() != nullptr ? &strength_map_(strength_map_.shape().n == 1 ? 0 : n, 0, 0, 0) : nullptr};
    }

    /// Blends tile `t` into channel plane `c` over its padded rows and columns inside the canvas: its
    /// normalised weight times its velocity, added to the sums; where the tile is the first in rank order to
    /// reach a pixel, the sum is zeroed first (in cache, so the canvas needs no zero-fill pass). A model
    /// output is converted to flow velocity here, from the canvas state. Returns nonzero when a converted
    /// model output is NaN or infinite.
    template <prediction::kind Kind>
    QUADFLOW_CPU_DISPATCH std::uint32_t accumulate_tile(std::size_t t, std::int64_t c, const plane_rows& p,
                                                        float sigma) const {
        std::uint32_t non_finite = 0;
        const tile::layout_tile& tl = layout_.tiles[t];
        const tile_terms& terms = terms_[t];
        const std::int64_t W = canvas_.w;
        const rect in = clipped(tl.padded, W, canvas_.h);
        const std::int64_t x0 = in.x, x1 = in.right();
        // Row y of each input, shifted so that [px] is canvas column px.
        const float* weights = blend_weights_.normalized_weights(t) - x0;
        const float* model_rows =
            terms.model_out ? terms.model_out + (c * tl.padded.h + (in.y - tl.padded.y)) * tl.padded.w - tl.padded.x
                            : nullptr;
        // term_at(y, k) gives row y's (k-th row of the tile inside the canvas) px -> velocity term.
        const std::int64_t ahead = detail::rows_ahead(in.w);
        auto each_row = [&](const auto& term_at) {
            for (std::int64_t y = in.y, k = 0; y < in.bottom(); ++y, ++k) {
                float* vr = p.v + y * W;
                const float* w = weights + k * in.w;
                if (y + ahead < in.bottom())
                    prefetch_range<prefetch_intent::write>(vr + ahead * W + x0, vr + ahead * W + x1);
                for (const column_run& r : sum_starts_.row(t, tl.padded, y))
                    for (std::int64_t px = r.begin; px < r.end; ++px) vr[px] = 0.0f;
                const auto term = term_at(y, k);
                for (std::int64_t px = x0; px < x1; ++px) vr[px] += w[px] * term(px);
            }
        };
        if constexpr (policy::linear_policy<P>) {
            const float a = terms.model, b = terms.preserve;
            if (model_rows && b != 0.0f) {
                each_row([&](std::int64_t y, std::int64_t k) {
                    const float *pm = model_rows + k * tl.padded.w, *xr = p.x + y * W, *orr = p.original + y * W;
                    return [&non_finite, pm, xr, orr, a, b, sigma](std::int64_t px) {
                        const float vm = prediction::to_flow_velocity(Kind, pm[px], xr[px], sigma);
                        non_finite |= quadflow::detail::non_finite_bit(vm);
                        return a * vm + b * (xr[px] - orr[px]);
                    };
                });
            } else if (model_rows) {
                each_row([&](std::int64_t y, std::int64_t k) {
                    const float *pm = model_rows + k * tl.padded.w, *xr = p.x + y * W;
                    return [&non_finite, pm, xr, a, sigma](std::int64_t px) {
                        const float vm = prediction::to_flow_velocity(Kind, pm[px], xr[px], sigma);
                        non_finite |= quadflow::detail::non_finite_bit(vm);
                        return a * vm;
                    };
                });
            } else if (b != 0.0f) {
                each_row([&](std::int64_t y, std::int64_t) {
                    const float *xr = p.x + y * W, *orr = p.original + y * W;
                    return [xr, orr, b](std::int64_t px) { return b * (xr[px] - orr[px]); };
                });
            } else {
                each_row([](std::int64_t, std::int64_t) { return [](std::int64_t) { return 0.0f; }; });
            }
        } else {
            const policy::tile_context& ctx = contexts_[t];
            each_row([&](std::int64_t y, std::int64_t k) {
                const float* pm = model_rows ? model_rows + k * tl.padded.w : nullptr;
                const float *xr = p.x + y * W, *orr = p.original ? p.original + y * W : nullptr,
                            *sr = p.strengths ? p.strengths + y * W : nullptr;
                return [this, &non_finite, &ctx, pm, xr, orr, sr, sigma](std::int64_t px) {
                    const float vm = pm ? prediction::to_flow_velocity(Kind, pm[px], xr[px], sigma) : 0.0f;
                    non_finite |= quadflow::detail::non_finite_bit(vm);
                    const policy::element e{vm, xr[px], orr ? orr[px] : 0.0f, sr ? sr[px] : ctx.strength};
                    return policy_.velocity(ctx, e);
                };
            });
        }
        return non_finite;
    }

    /// Chunked blend: adds w * v of the tiles of ranks [rank_begin, rank_end) to channel plane (n, c).
    template <prediction::kind Kind>
    bool accumulate_ranks(std::int64_t rank_begin, std::int64_t rank_end, const_view x, mutable_view velocity,
                          std::int64_t n, std::int64_t c, float sigma) const {
        const plane_rows p = rows_of(x, velocity, n, c);
        const std::vector<std::int64_t>& rank_order = batch_plan_.rank_order();
        std::uint32_t non_finite = 0;
        for (std::int64_t k = rank_begin; k < rank_end; ++k)
            non_finite |=
                accumulate_tile<Kind>(static_cast<std::size_t>(rank_order[static_cast<std::size_t>(k)]), c, p, sigma);
        return non_finite != 0;
    }

    template <prediction::kind Kind>
    void run_image(const_view x, double sigma, mutable_view velocity, std::int64_t n) {
        const float s = static_cast<float>(sigma);
        // Blend step k (one per chunk, or one step when no tile needs the model) adds the tiles of ranks
        // [chunk_rank_begin[k], chunk_rank_begin[k + 1]) to each channel plane.
        const std::vector<chunk>& chunks = batch_plan_.chunks();
        const std::vector<std::int64_t>& chunk_rank_begin = batch_plan_.chunk_rank_begin();
        const auto steps = static_cast<std::int64_t>(chunk_rank_begin.size()) - 1;
        for (std::int64_t k = 0; k < steps; ++k) {
            const bool has_chunk = k < static_cast<std::int64_t>(chunks.size());
            if (has_chunk) {
                const chunk& ch = chunks[static_cast<std::size_t>(k)];
                std::atomic<bool> non_finite_input{false};
                // A distributed field gathers only this rank's tiles (the whole evaluation is one chunk).
                const std::span<const std::int64_t> gathered =
                    options_.exchange ? std::span<const std::int64_t>(own_tiles_)
                                      : batch_plan_.placed().subspan(static_cast<std::size_t>(ch.first_tile),
                                                                     static_cast<std::size_t>(ch.tiles));
                auto gather_task = [&](std::int64_t i) {  // one channel of one tile
                    const auto t = static_cast<std::size_t>(gathered[static_cast<std::size_t>(i / canvas_.c)]);
                    const std::int64_t c = i % canvas_.c;
                    const rect& r = layout_.tiles[t].padded;
                    if (gather_tile(x, n, c, r, input_arena_.data() + batch_plan_.slot(t) + c * r.h * r.w,
                                    !needs_scan_))
                        non_finite_input = true;
                };
                pool_->run(static_cast<std::int64_t>(gathered.size()) * canvas_.c, gather_task);
                if (non_finite_input) report_non_finite_canvas(x, sigma);
                const auto auxiliaries = static_cast<std::int64_t>(options_.auxiliary.size());
                auto gather_aux_task = [&](std::int64_t i) {  // one auxiliary canvas of one tile
                    const auto t = static_cast<std::size_t>(gathered[static_cast<std::size_t>(i / auxiliaries)]);
                    const auto k = static_cast<std::size_t>(i % auxiliaries);
                    const auxiliary_canvas& a = options_.auxiliary[k];
                    gather_auxiliary(a.data, n, layout_.tiles[t].padded, canvas_.w, canvas_.h, a.scale,
                                     aux_arenas_[k].data() +
                                         batch_plan_.slot(t) / canvas_.c * detail::auxiliary_values_per_pixel(a));
                };
                if (auxiliaries > 0)
                    pool_->run(static_cast<std::int64_t>(gathered.size()) * auxiliaries, gather_aux_task);
                if (options_.exchange)
                    call_models_distributed(ch, sigma);
                else
                    for (std::int64_t b = ch.first_batch; b < ch.first_batch + ch.batches; ++b)
                        call_model(batch_plan_.batches()[static_cast<std::size_t>(b)], sigma);
            }
            std::atomic<bool> non_finite{false};
            auto blend_task = [&](std::int64_t c) {
                const auto begin = static_cast<std::size_t>(k);
                if (accumulate_ranks<Kind>(chunk_rank_begin[begin], chunk_rank_begin[begin + 1], x, velocity, n, c, s))
                    non_finite = true;
            };
            pool_->run(canvas_.c, blend_task);
            if (non_finite && has_chunk) report_non_finite(chunks[static_cast<std::size_t>(k)], x, sigma, n);
        }
        stats_.calls_saved += batch_plan_.full_batches() - static_cast<std::int64_t>(batch_plan_.batches().size());
    }

    void evaluate_image(const_view x, double sigma, mutable_view velocity, std::int64_t n) {
        choose_batches(sigma, n);
        const std::int64_t image = canvas_.c * canvas_.h * canvas_.w;
        if (needs_scan_ && quadflow::detail::any_non_finite(x.data() + n * image, image))
            report_non_finite_canvas(x, sigma);
        switch (model_->prediction_kind()) {
            case prediction::kind::flow_velocity:
                return run_image<prediction::kind::flow_velocity>(x, sigma, velocity, n);
            case prediction::kind::denoised:
                return run_image<prediction::kind::denoised>(x, sigma, velocity, n);
            case prediction::kind::t_velocity:
                return run_image<prediction::kind::t_velocity>(x, sigma, velocity, n);
            case prediction::kind::epsilon:
                return run_image<prediction::kind::epsilon>(x, sigma, velocity, n);
        }
    }

    M* model_;
    tile::layout layout_;
    shape4 canvas_;
    P policy_;
    field_options options_;
    const_view original_;
    const_view strength_map_;

    blend_plan blend_weights_;
    batch_plan batch_plan_;  ///< groups, rank order; per evaluation the model batches, chunks and arena slots
    sum_starts sum_starts_;  ///< per tile row: the columns where it is the first tile in rank order
    std::vector<detail::tile_facts> facts_;
    host_buffer input_arena_, output_arena_;
    std::vector<model::tile_info> batch_infos_;  ///< per placed tile (batch_plan::placed order)
    std::vector<host_buffer> aux_arenas_;        ///< per auxiliary canvas: its crops, at the latent arena's slots
    std::vector<const_view> aux_views_;          ///< per auxiliary canvas: the current batch's crops
    std::vector<policy::tile_context> contexts_;
    std::vector<tile_terms> terms_;
    // Distributed: per batch its rank, per rank its output elements, this rank's tiles, every status.
    std::vector<std::int64_t> counts_, own_tiles_;
    std::span<const int> owner_;
    std::vector<rank_status> statuses_;
    bool needs_scan_ = false;
    bool check_in_gather_ = true;
    int step_ = -1;
    field_stats stats_;
    std::unique_ptr<thread_pool> pool_;
};

}  // namespace quadflow::field
