// quadflow blend plan: per-layout blend data (separable tile weights, reciprocal of the summed weights, normalised tile
// weights).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "quadflow/blend/weights.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/tile/layout.hpp"

namespace quadflow::field {

/// What a blend over a fixed layout needs, computed once: for each tile one weight factor per padded
/// row and one per padded column (weights are separable), and per canvas pixel 1 / (sum of weights).
class blend_plan {
public:
    blend_plan() = default;
    blend_plan(const tile::layout& layout, blend::weight_params weights) : weights_(weights) {
        blend::validate(weights);
        row_offsets_.resize(layout.tiles.size());
        column_offsets_.resize(layout.tiles.size());
        std::int64_t total = 0;
        for (std::size_t t = 0; t < layout.tiles.size(); ++t) {
            row_offsets_[t] = total;
            column_offsets_[t] = total + layout.tiles[t].padded.h;
            total += layout.tiles[t].padded.h + layout.tiles[t].padded.w;
        }
        axis_.assign(static_cast<std::size_t>(total), 0.0f);
        for (std::size_t t = 0; t < layout.tiles.size(); ++t) {
            const tile::layout_tile& tl = layout.tiles[t];
            float* rows = axis_.data() + row_offsets_[t];
            float* cols = axis_.data() + column_offsets_[t];
            for (std::int64_t i = 0; i < tl.padded.h; ++i)
                rows[i] = blend::axis_weight(weights, i, tl.padded.h, tl.overlap_top(), tl.overlap_bottom());
            for (std::int64_t i = 0; i < tl.padded.w; ++i)
                cols[i] = blend::axis_weight(weights, i, tl.padded.w, tl.overlap_left(), tl.overlap_right());
        }
        const std::int64_t H = layout.height, W = layout.width;
        std::vector<double> sum(static_cast<std::size_t>(H * W), 0.0);
        for (std::size_t t = 0; t < layout.tiles.size(); ++t) {
            const tile::layout_tile& tl = layout.tiles[t];
            const float* rows = row_weights(t);
            const float* cols = column_weights(t);
            const rect in = clipped(tl.padded, W, H);
            for (std::int64_t y = in.y; y < in.bottom(); ++y)
                for (std::int64_t x = in.x; x < in.right(); ++x)
                    sum[static_cast<std::size_t>(y * W + x)] +=
                        double(rows[y - tl.padded.y]) * double(cols[x - tl.padded.x]);
        }
        inverse_sum_.resize(sum.size());
        for (std::size_t i = 0; i < sum.size(); ++i) {
            if (!(sum[i] > 0.0) || !std::isfinite(sum[i]))
                throw invalid_argument("weights", blend::to_string(weights.kind),
                                       "the summed weight at pixel (x=" + std::to_string(i % W) +
                                           ", y=" + std::to_string(i / W) + ") is " + detail::to_text(sum[i]));
            inverse_sum_[i] = static_cast<float>(1.0 / sum[i]);
        }
        normalized_offsets_.resize(layout.tiles.size());
        std::int64_t normalized_total = 0;
        for (std::size_t t = 0; t < layout.tiles.size(); ++t) {
            normalized_offsets_[t] = normalized_total;
            normalized_total += clipped(layout.tiles[t].padded, W, H).area();
        }
        normalized_.resize(static_cast<std::size_t>(normalized_total));
        for (std::size_t t = 0; t < layout.tiles.size(); ++t) {
            const tile::layout_tile& tl = layout.tiles[t];
            const rect in = clipped(tl.padded, W, H);
            float* out = normalized_.data() + normalized_offsets_[t];
            for (std::int64_t y = in.y; y < in.bottom(); ++y)
                for (std::int64_t x = in.x; x < in.right(); ++x)
                    *out++ = static_cast<float>(double(row_weights(t)[y - tl.padded.y]) *
                                                double(column_weights(t)[x - tl.padded.x]) /
                                                sum[static_cast<std::size_t>(y * W + x)]);
        }
    }

    blend::weight_params weights() const { return weights_; }
    /// Weight factors of tile `t`'s padded rows (padded.h values) and columns (padded.w values).
    const float* row_weights(std::size_t t) const { return axis_.data() + row_offsets_[t]; }
    const float* column_weights(std::size_t t) const { return axis_.data() + column_offsets_[t]; }
    /// 1 / (sum over covering tiles of their weight), one per canvas pixel, row-major.
    const std::vector<float>& inverse_weight_sum() const { return inverse_sum_; }
    /// Tile `t`'s weight over the summed weights (computed in double), for its padded pixels inside the
    /// canvas, row-major over clipped(padded, W, H): the factor of the tile's velocity in the blend. These sum to 1
    /// (within rounding) at every pixel, so a blend with them needs no normalisation pass.
    const float* normalized_weights(std::size_t t) const { return normalized_.data() + normalized_offsets_[t]; }

private:
    blend::weight_params weights_{};
    std::vector<std::int64_t> row_offsets_, column_offsets_;
    std::vector<float> axis_;
    std::vector<float> inverse_sum_;
    std::vector<std::int64_t> normalized_offsets_;
    std::vector<float> normalized_;
};

}  // namespace quadflow::field
