// quadflow CUDA tiled velocity field: field::tiled_field's semantics with latents, model and blend on the GPU.
//
// Per evaluation, all enqueued on the user's stream (sigma convention, v = dx/dsigma = noise - x0):
//   1. on the host: each tile's policy context and whether it needs the model; tiles that do get slots in
//      the batch buffers, in model batches of equal padded shape in rank order (field::batch_plan, the CPU
//      field's planner, with an unbounded arena); the per-tile table (slot, linear velocity or context) goes
//      to the device through a pinned buffer allocated once (one cudaMemcpyAsync);
//   2. per image: gather the tiles that need the model (mirror reflection outside the canvas), call the
//      model per batch with device views and the stream, then one fused blend over all tiles of the
//      layout (prediction -> flow velocity, NaN/Inf check, policy, weights, normalisation; kernels/blend.cuh);
//   3. the evaluation waits for its finiteness record (a few bytes) and throws model_error naming the
//      tile, channel, pixel and step of the first non-finite model velocity.
// Differences from field::tiled_field: device buffers hold every tile at once (options.arena_elements and
// options.threads do not apply), and the blend sums differently: each pixel adds w * v of its covering tiles
// in tile index order (the coverage lists' order) and multiplies the sum by 1 / (sum of weights) at the end,
// where the CPU field adds (w / sum of weights) * v tile by tile in rank order (padded-shape group, then tile
// index). So results match the CPU field to float rounding, and match themselves bit for bit for any
// tile_batch_size. Nothing is allocated after construction.
// With field_options::exchange (a device-memory exchange: distributed/nccl.hpp) the field is one rank of a distributed
// field as field::tiled_field is: each rank calls its model for its share of the batches and the outputs are
// all-gathered into the batch buffer, so every rank's velocity is the single-process device field's, bit for bit.
#pragma once
#ifndef __CUDACC__
#error "quadflow/cuda/device_field.cuh needs nvcc"
#endif

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quadflow/core/error.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/core/tensor.hpp"
#include "quadflow/cuda/blend_arguments.hpp"
#include "quadflow/cuda/blend_tables.hpp"
#include "quadflow/cuda/device_model.cuh"
#include "quadflow/cuda/device_tables.cuh"
#include "quadflow/cuda/error.cuh"
#include "quadflow/cuda/launch.cuh"
#include "quadflow/cuda/memory.cuh"
#include "quadflow/field/batch_exchange.hpp"
#include "quadflow/field/batch_plan.hpp"
#include "quadflow/field/blend_plan.hpp"
#include "quadflow/field/detail/checks.hpp"
#include "quadflow/field/detail/model_calls.hpp"
#include "quadflow/field/detail/tile_facts.hpp"
#include "quadflow/field/options.hpp"
#include "quadflow/model/concepts.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/prediction/prediction.hpp"
#include "quadflow/schedule/strength.hpp"
#include "quadflow/schedule/validate.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::cuda {

/// The values of a contiguous device view, copied to the host through `stream` (setup only).
inline std::vector<float> copy_to_host(const_view view, cudaStream_t stream) {
    std::vector<float> values(static_cast<std::size_t>(view.numel()));
    if (!values.empty()) {
        QUADFLOW_CUDA_CHECK(
            cudaMemcpyAsync(values.data(), view.data(), values.size() * sizeof(float), cudaMemcpyDeviceToHost, stream));
        QUADFLOW_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    return values;
}

template <device_tile_model M, policy::velocity_policy P>
class device_tiled_field {
public:
    /// `canvas`: shape of the device latents the sampler will pass (N x C x H x W, H and W the layout's).
    /// `options`: as for field::tiled_field (weights, tile_batch_size, sigmas, strength_rule).
    /// `stream`: every copy, kernel and model call of the field is enqueued on it.
    /// `original`: the clean latent in device memory (img2img), canvas shape; required when P::needs_original.
    /// `strength_map`: per-pixel strength in [0, 1] in device memory, (1 or N) x 1 x H x W, for `mask`.
    /// Both are read once here (checks, per-tile peaks) and then at every evaluation: keep them alive.
    device_tiled_field(M& model, const tile::layout& layout, shape4 canvas, P policy, field::field_options options,
                       cudaStream_t stream, const_view original = {}, const_view strength_map = {})
        : model_(&model), layout_(layout), canvas_(canvas), policy_(policy), options_(std::move(options)),
          stream_(stream), original_(original), strength_map_(strength_map) {
        field::detail::check_construction(layout_, canvas, options_);
        require(!options_.exchange || options_.exchange->memory() == memory_space::device, "exchange memory", "host",
                "cuda::device_tiled_field exchanges device memory (distributed::nccl_communicator); a host exchange "
                "(MPI) is for field::tiled_field");
        require(canvas.c <= 65535, "canvas.c", canvas.c, "must be <= 65535 (CUDA grid limit)");
        require(canvas.h <= blend_tuning::block_height * 65535, "canvas.h", canvas.h, "must fit the CUDA grid");
        require(static_cast<std::int64_t>(layout_.tiles.size()) < max_blend_tiles, "layout.tiles.size()",
                layout_.tiles.size(), "must be < 2^24");
        const std::vector<float> strengths = check_inputs();
        field::detail::check_auxiliary(options_.auxiliary, canvas_, memory_space::device);
        prepare_tiles(strengths);
        prepare_groups();
        tables_ =
            device_blend_tables(build_blend_tables(layout_, field::blend_plan(layout_, options_.weights)), stream_);
        prepare_step_tables();
        if (options_.exchange) {
            const auto ranks = static_cast<std::size_t>(options_.exchange->size());
            device_statuses_ = device_buffer<field::rank_status>(ranks);
            pinned_statuses_ = pinned_buffer<field::rank_status>(ranks);
            counts_.resize(ranks);
        }
        QUADFLOW_CUDA_CHECK(cudaStreamSynchronize(stream_));
    }
    device_tiled_field(const device_tiled_field&) = delete;
    device_tiled_field& operator=(const device_tiled_field&) = delete;
    ~device_tiled_field() { cudaStreamSynchronize(stream_); }

    /// Called by quadflow::sampler::sample / cuda::sample before each step: evaluations until the next
    /// call belong to step `step`.
    void on_step(int step, double sigma, double sigma_next) {
        field::detail::check_step(options_.sigmas, step, sigma, sigma_next);
        step_ = step;
    }

    /// Writes the flow velocity of the device latent `x` at `sigma` into the device view `velocity`.
    void operator()(const_view x, double sigma, mutable_view velocity) {
        require_contiguous_device(x, "x");
        require_contiguous_device(velocity, "velocity");
        field::detail::check_evaluation(x.shape(), velocity.shape(), canvas_, sigma, step_, "device_tiled_field",
                                        "quadflow::cuda::sample");
        field::detail::check_sigma_in_step(options_.sigmas, step_, sigma);
        const prediction::kind kind = model_->prediction_kind();
        ++stats_.evaluations;

        tables_uploaded_.wait();  // the previous upload has read the pinned tables
        const bool preserving = tile_facts_of(sigma);
        QUADFLOW_CUDA_CHECK(cudaMemcpyAsync(step_tables_.data(), pinned_tables_.data(), pinned_tables_.bytes(),
                                            cudaMemcpyHostToDevice, stream_));
        tables_uploaded_.record(stream_);
        QUADFLOW_CUDA_CHECK(cudaMemsetAsync(non_finite_.data(), 0xff, sizeof(non_finite_record), stream_));

        const std::int64_t image_elements = canvas_.c * canvas_.h * canvas_.w;
        const std::int64_t plane = canvas_.h * canvas_.w;
        constexpr bool linear = policy::linear_policy<P>;
        blend_arguments blend = tables_.arguments(canvas_.c);
        blend.steps = device_steps();
        blend.contexts = linear ? nullptr : device_contexts();
        blend.kind = kind;
        blend.sigma = static_cast<float>(sigma);
        blend.non_finite = non_finite_.data();
        for (std::int64_t n = 0; n < canvas_.n; ++n) {
            const float* xn = x.data() + n * image_elements;
            gather_tiles(xn, canvas_.w, canvas_.h, canvas_.c, tables_.tiles(), device_steps(), device_placed(), placed_,
                         input_.data(), stream_);
            for (std::size_t k = 0; k < options_.auxiliary.size(); ++k) {
                const field::auxiliary_canvas& a = options_.auxiliary[k];
                const shape4 s = a.data.shape();
                gather_auxiliary(a.data.data() + (s.n == 1 ? 0 : n) * s.c * s.h * s.w, canvas_.w, canvas_.h, a.scale,
                                 canvas_.c, s.c, tables_.tiles(), device_steps(), device_placed(), placed_,
                                 aux_buffers_[k].data(), stream_);
            }
            if (options_.exchange)
                call_models_distributed(sigma, n);
            else
                for (const batch& b : batch_plan_.batches()) call_model(b, sigma, n);
            stats_.calls_saved += batch_plan_.full_batches() - static_cast<std::int64_t>(batch_plan_.batches().size());
            const bool reads_state = kind != prediction::kind::flow_velocity || preserving || !linear;
            blend.x = reads_state ? xn : nullptr;
            blend.original =
                (preserving || !linear) && original_.data() ? original_.data() + n * image_elements : nullptr;
            blend.strength =
                strength_map_.data() ? strength_map_.data() + (strength_map_.shape().n == 1 ? 0 : n) * plane : nullptr;
            blend.model_output = output_.data();
            blend.velocity = velocity.data() + n * image_elements;
            blend_tiles(blend, tables_.blocks_x(), tables_.blocks_y(), policy_, stream_);
            find_non_finite(non_finite_.data(), output_.data(), blend.x, canvas_.w, canvas_.h, canvas_.c,
                            tables_.tiles(), device_steps(), device_placed(), placed_, kind, blend.sigma, stream_);
            capture_non_finite(non_finite_.data(), n, output_.data(), tables_.tiles(), device_steps(), xn, canvas_.w,
                               canvas_.h, stream_);
        }
        QUADFLOW_CUDA_CHECK(cudaMemcpyAsync(report_.data(), non_finite_.data(), sizeof(non_finite_record),
                                            cudaMemcpyDeviceToHost, stream_));
        report_ready_.record(stream_);
        report_ready_.wait();
        if (report_[0].first != no_non_finite) report_non_finite(report_[0], sigma);
    }

    const field::field_stats& stats() const { return stats_; }
    const tile::layout& layout() const { return layout_; }
    cudaStream_t stream() const { return stream_; }
    /// Model batches one evaluation makes per image when every tile needs the model.
    std::int64_t full_batches() const { return batch_plan_.full_batches(); }
    /// Device memory the field holds, in bytes (batch buffers, tables).
    std::int64_t device_bytes() const {
        std::int64_t aux_bytes = 0;
        for (const device_buffer<float>& b : aux_buffers_) aux_bytes += static_cast<std::int64_t>(b.bytes());
        return static_cast<std::int64_t>(input_.bytes() + output_.bytes() + step_tables_.bytes()) + tables_.bytes() +
               aux_bytes;
    }

private:
    using batch = field::batch_plan::batch;  ///< offset: element offset into the batch buffers

    /// Checks the inputs as field::tiled_field does (on host copies); returns the strength map's values.
    std::vector<float> check_inputs() {
        std::vector<float> originals, strengths;
        if (original_.data() != nullptr) {
            require_contiguous_device(original_, "original");
            if (original_.shape() == canvas_) originals = copy_to_host(original_, stream_);
        }
        if (strength_map_.data() != nullptr) {
            require_contiguous_device(strength_map_, "strength_map");
            strengths = copy_to_host(strength_map_, stream_);
        }
        field::detail::check_field_inputs<P>({canvas_, options_.sigmas, original_.data() != nullptr, original_.shape(),
                                              originals, strength_map_.data() != nullptr, strength_map_.shape(),
                                              strengths});
        return strengths;
    }

    void prepare_tiles(const std::vector<float>& strengths) {
        facts_ = field::detail::tile_facts_of(layout_, options_.sigmas, options_.strength_rule, strength_map_.shape().n,
                                              strengths);
    }

    void prepare_groups() {
        batch_plan_ = field::batch_plan(
            layout_, canvas_.c, options_.tile_batch_size, field::batch_plan::unbounded_arena,
            model::accepts_mixed_conditions<M> ? field::condition_mixing::mixed : field::condition_mixing::separate);
        for (const field::shape_batch& g : batch_plan_.groups())
            require(g.width * g.height * canvas_.c < max_tile_elements, "tile elements", g.width * g.height * canvas_.c,
                    "must be < 2^40");
        input_ = device_buffer<float>(static_cast<std::size_t>(batch_plan_.arena_capacity()));
        output_ = device_buffer<float>(static_cast<std::size_t>(batch_plan_.arena_capacity()));
        contexts_.resize(facts_.size());
        batch_infos_.assign(facts_.size(), model::tile_info{});
        // An auxiliary buffer k holds, per latent batch element of channel 0, C_k * scale_k^2 values.
        const std::int64_t batch_pixels = batch_plan_.arena_capacity() / canvas_.c;
        for (const field::auxiliary_canvas& a : options_.auxiliary)
            aux_buffers_.emplace_back(
                static_cast<std::size_t>(batch_pixels * field::detail::auxiliary_values_per_pixel(a)));
        aux_views_.assign(options_.auxiliary.size(), const_view{});
    }

    /// One pinned and one device allocation hold the per-evaluation tables: tile_step per tile, then
    /// (policies without linear()) tile_context per tile, then the placed tiles' indices.
    void prepare_step_tables() {
        const std::size_t tiles = facts_.size();
        auto aligned = [](std::size_t bytes) { return (bytes + 15) / 16 * 16; };
        contexts_offset_ = aligned(tiles * sizeof(tile_step));
        placed_offset_ =
            contexts_offset_ + (policy::linear_policy<P> ? 0 : aligned(tiles * sizeof(policy::tile_context)));
        const std::size_t bytes = placed_offset_ + aligned(tiles * sizeof(std::int32_t));
        pinned_tables_ = pinned_buffer<std::byte>(bytes);
        step_tables_ = device_buffer<std::byte>(bytes);
        non_finite_ = device_buffer<non_finite_record>(1);
        report_ = pinned_buffer<non_finite_record>(1);
    }

    tile_step* pinned_steps() const { return reinterpret_cast<tile_step*>(pinned_tables_.data()); }
    policy::tile_context* pinned_contexts() const {
        return reinterpret_cast<policy::tile_context*>(pinned_tables_.data() + contexts_offset_);
    }
    std::int32_t* pinned_placed() const {
        return reinterpret_cast<std::int32_t*>(pinned_tables_.data() + placed_offset_);
    }
    const tile_step* device_steps() const { return reinterpret_cast<const tile_step*>(step_tables_.data()); }
    const policy::tile_context* device_contexts() const {
        return reinterpret_cast<const policy::tile_context*>(step_tables_.data() + contexts_offset_);
    }
    const std::int32_t* device_placed() const {
        return reinterpret_cast<const std::int32_t*>(step_tables_.data() + placed_offset_);
    }

    policy::tile_context context(std::size_t t, double sigma, int sigma_index) const {
        return field::detail::tile_context_at(layout_.tiles[t], facts_[t], sigma, step_, options_.sigmas, sigma_index,
                                              original_.data() != nullptr);
    }

    /// Fills the pinned tables and the model batches for this evaluation; returns whether some tile has a
    /// preservation term (then the blend reads the state and the original).
    bool tile_facts_of(double sigma) {
        tile_step* steps = pinned_steps();
        std::int32_t* placed = pinned_placed();
        const int sigma_index = field::detail::nearest_sigma_index(options_.sigmas, sigma);
        for (std::size_t t = 0; t < facts_.size(); ++t) contexts_[t] = context(t, sigma, sigma_index);
        batch_plan_.plan([this](std::size_t t) { return policy_.needs_model(contexts_[t]); });
        if (options_.exchange) {  // each rank's batches together in the batch buffers, for an in-place all-gather
            owner_ = batch_plan_.assign_ranks(options_.exchange->size(), counts_);
        }
        for (std::size_t t = 0; t < facts_.size(); ++t) steps[t].slot = batch_plan_.slot(t);
        const std::span<const std::int64_t> model_tiles = batch_plan_.placed();
        for (std::size_t i = 0; i < model_tiles.size(); ++i) placed[i] = static_cast<std::int32_t>(model_tiles[i]);
        placed_ = static_cast<std::int64_t>(model_tiles.size());
        bool preserving = false;
        const bool has_original = original_.data() != nullptr;
        for (std::size_t t = 0; t < facts_.size(); ++t) {
            if constexpr (policy::linear_policy<P>) {
                const policy::linear_velocity l = policy_.linear(contexts_[t]);
                steps[t].linear = {steps[t].slot >= 0 ? l.model : 0.0f, has_original ? l.preserve : 0.0f};
                preserving = preserving || steps[t].linear.preserve != 0.0f;
            } else {
                pinned_contexts()[t] = contexts_[t];
                steps[t].linear = {};
            }
        }
        return preserving;
    }

    void call_model(const batch& b, double sigma, std::int64_t n) {
        const field::shape_batch& group = batch_plan_.groups()[static_cast<std::size_t>(b.group)];
        for (std::int64_t i = b.first; i < b.first + b.count; ++i) {
            const tile::layout_tile& tl = layout_.tiles[static_cast<std::size_t>(pinned_placed()[i])];
            batch_infos_[static_cast<std::size_t>(i)] = field::detail::tile_info_of(tl, layout_.latent_scale, n);
        }
        const field::detail::batch_views views = field::detail::batch_views_of(
            b, group, canvas_.c, input_.data(), output_.data(), memory_space::device, options_.auxiliary,
            [this](std::size_t k) { return aux_buffers_[k].data(); }, aux_views_);
        const model::batch_request request = field::detail::batch_request_of(b, views.input, sigma, step_, batch_infos_,
                                                                             canvas_, layout_.latent_scale, aux_views_);
        prediction::require_convertible(model_->prediction_kind(), sigma);
        // An element the model leaves unwritten stays NaN (all bits set), so the non-finite check names its tile.
        if (options_.fill_outputs_with_nan)
            QUADFLOW_CUDA_CHECK(cudaMemsetAsync(
                views.output.data(), 0xff, static_cast<std::size_t>(views.output.numel()) * sizeof(float), stream_));
        (*model_)(request, views.output, stream_);
        field::detail::count_model_call(stats_, b, group);
    }

    /// Distributed (field_options::exchange, device memory): this rank calls its model for its own batches of image
    /// n, a status word per rank says whether any model failed (then every rank throws the same model_error), and
    /// the outputs are all-gathered into the batch buffer in place. The exchange's collectives return when done, so
    /// the field's stream is synchronized before them.
    void call_models_distributed(double sigma, std::int64_t n) {
        field::batch_exchange& exchange = *options_.exchange;
        const int ranks = exchange.size();
        const auto me = static_cast<std::size_t>(exchange.rank());
        field::rank_status& status = pinned_statuses_.data()[me];
        status = field::rank_status{};
        try {
            for (std::size_t i = 0; i < owner_.size(); ++i)
                if (owner_[i] == exchange.rank()) call_model(batch_plan_.batches()[i], sigma, n);
        } catch (const std::exception& e) {
            status.failed = 1;
            status.set_message(e.what());
        }
        constexpr std::size_t status_bytes = sizeof(field::rank_status);
        QUADFLOW_CUDA_CHECK(
            cudaMemcpyAsync(device_statuses_.data() + me, &status, status_bytes, cudaMemcpyHostToDevice, stream_));
        QUADFLOW_CUDA_CHECK(cudaStreamSynchronize(stream_));
        const std::span<std::byte> statuses(reinterpret_cast<std::byte*>(device_statuses_.data()),
                                            status_bytes * static_cast<std::size_t>(ranks));
        exchange.all_gather(statuses.subspan(me * status_bytes, status_bytes), statuses);
        QUADFLOW_CUDA_CHECK(cudaMemcpyAsync(pinned_statuses_.data(), device_statuses_.data(), statuses.size(),
                                            cudaMemcpyDeviceToHost, stream_));
        QUADFLOW_CUDA_CHECK(cudaStreamSynchronize(stream_));
        field::detail::throw_if_a_rank_failed(
            std::span<const field::rank_status>(pinned_statuses_.data(), static_cast<std::size_t>(ranks)), step_,
            sigma);
        field::detail::gather_rank_outputs(exchange, output_.data(), counts_, stats_);
    }

    [[noreturn]] void report_non_finite(const non_finite_record& r, double sigma) const {
        const auto t = static_cast<std::size_t>(r.first >> non_finite_offset_bits);
        const auto local = static_cast<std::int64_t>(r.first & ((1ull << non_finite_offset_bits) - 1));
        const tile::layout_tile& tl = layout_.tiles[t];
        const rect& p = tl.padded;
        const std::int64_t c = local / p.area(), y = p.y + local % p.area() / p.w, x = p.x + local % p.w;
        const float v =
            prediction::to_flow_velocity(model_->prediction_kind(), r.prediction, r.state, static_cast<float>(sigma));
        throw field::detail::non_finite_output_error({r.prediction, v, &tl, r.image, c, x, y}, step_, sigma);
    }

    M* model_;
    tile::layout layout_;
    shape4 canvas_;
    P policy_;
    field::field_options options_;
    cudaStream_t stream_;
    const_view original_;
    const_view strength_map_;

    std::vector<field::detail::tile_facts> facts_;
    field::batch_plan batch_plan_;  ///< groups; per evaluation the model batches and batch-buffer slots
    std::vector<policy::tile_context> contexts_;
    std::vector<model::tile_info> batch_infos_;
    std::int64_t placed_ = 0;
    // Distributed: per batch its rank, per rank its output elements and its status.
    std::vector<std::int64_t> counts_;
    std::span<const int> owner_;
    device_buffer<field::rank_status> device_statuses_;
    pinned_buffer<field::rank_status> pinned_statuses_;
    int step_ = -1;
    field::field_stats stats_;

    device_blend_tables tables_;
    device_buffer<float> input_, output_;
    std::vector<device_buffer<float>> aux_buffers_;  ///< per auxiliary canvas: its crops, at the latent slots
    std::vector<const_view> aux_views_;              ///< per auxiliary canvas: the current batch's crops
    std::size_t contexts_offset_ = 0, placed_offset_ = 0;
    pinned_buffer<std::byte> pinned_tables_;
    device_buffer<std::byte> step_tables_;
    device_buffer<non_finite_record> non_finite_;
    pinned_buffer<non_finite_record> report_;
    event tables_uploaded_, report_ready_;
};

}  // namespace quadflow::cuda
