// Tests of the quality metrics: PSNR, SSIM against scikit-image, and the seam contrast on a layout's borders.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>

#include "field_fixtures.hpp"
#include "quadflow/metrics/metrics.hpp"

using namespace quadflow;
using fixtures::grid_layout;

TEST_CASE("seam contrast is 1 for a smooth picture whatever its texture, and grows with a step at a tile border") {
    const auto layout = grid_layout(2, 2, 8, 0, {1.0});
    host_tensor ramp(shape4{1, 2, 16, 16});
    for (std::int64_t c = 0; c < 2; ++c)
        for (std::int64_t y = 0; y < 16; ++y)
            for (std::int64_t x = 0; x < 16; ++x) ramp(0, c, y, x) = 0.1f * float(x) + 0.05f * float(y);
    CHECK(metrics::seam_contrast(ramp.cview(), layout) == doctest::Approx(1.0));
    // Twice the texture everywhere: the contrast stays 1, a step at the border raises it.
    host_tensor steep = ramp, stepped = ramp;
    for (std::int64_t i = 0; i < steep.numel(); ++i) steep.span()[static_cast<std::size_t>(i)] *= 2.0f;
    CHECK(metrics::seam_contrast(steep.cview(), layout) == doctest::Approx(1.0));
    for (std::int64_t c = 0; c < 2; ++c)
        for (std::int64_t y = 0; y < 16; ++y)
            for (std::int64_t x = 8; x < 16; ++x) stepped(0, c, y, x) += 0.4f;  // right tiles
    // Vertical borders: |diff| 0.5 across vs 0.1 beside; horizontal ones: 0.05 vs 0.05. Sums over 16 rows x 2
    // channels and 16 columns x 2 channels: (16 * 0.5 + 16 * 0.05) / (16 * 0.1 + 16 * 0.05) = 8.8 / 2.4.
    CHECK(metrics::seam_contrast(stepped.cview(), layout) == doctest::Approx(8.8 / 2.4).epsilon(1e-4));
    const host_tensor flat(shape4{1, 1, 16, 16}, 0.3f);
    CHECK(metrics::seam_contrast(flat.cview(), layout) == 0.0);
    CHECK_THROWS_AS(metrics::seam_contrast(flat.cview(), grid_layout(1, 1, 8, 0, {1.0})), shape_error);
}

TEST_CASE("metrics::psnr: 10 log10(range^2 / MSE), infinite for equal tensors, errors name the parameter") {
    host_tensor a(shape4{1, 1, 2, 2}, 0.5f), b(shape4{1, 1, 2, 2}, 0.5f);
    CHECK(std::isinf(metrics::psnr(a.cview(), b.cview())));
    b.data()[0] = 0.3f;  // MSE = 0.04 / 4 = 0.01 -> 10 log10(4 / 0.01) = 26.02 dB
    CHECK(metrics::psnr(a.cview(), b.cview()) == doctest::Approx(10.0 * std::log10(400.0)).epsilon(1e-6));
    CHECK(metrics::psnr(a.cview(), b.cview(), 1.0) == doctest::Approx(20.0).epsilon(1e-6));
    CHECK_THROWS_WITH_AS(metrics::psnr(a.cview(), b.cview(), 0.0), "peak_to_peak = 0: must be > 0", invalid_argument);
    const host_tensor c(shape4{1, 1, 2, 3});
    CHECK_THROWS_AS(metrics::psnr(a.cview(), c.cview()), shape_error);
}

TEST_CASE("metrics::ssim matches scikit-image's structural_similarity (Gaussian window, sigma 1.5)") {
    // Golden values: skimage 0.19.3, structural_similarity(a, b, data_range=R, channel_axis=-1, gaussian_weights=True,
    // sigma=1.5, use_sample_covariance=False) on the same float32 planes (HWC there, CHW here).
    const std::int64_t channels = 3, h = 20, w = 23;
    host_tensor a(shape4{1, channels, h, w}), b(a.shape()), half(a.shape());
    for (std::int64_t c = 0; c < channels; ++c)
        for (std::int64_t y = 0; y < h; ++y)
            for (std::int64_t x = 0; x < w; ++x) {
                const double u = 0.8 * std::sin(0.3 * x + 0.2 * y + c);
                const std::int64_t i = (c * h + y) * w + x;
                a.data()[i] = static_cast<float>(u);
                b.data()[i] = static_cast<float>(u + 0.1 * std::cos(0.7 * x - 0.4 * y + 2 * c));
                half.data()[i] = static_cast<float>(0.5 * u);
            }
    CHECK(metrics::ssim(a.cview(), b.cview()) == doctest::Approx(0.9284099530330806).epsilon(1e-9));
    CHECK(metrics::ssim(a.cview(), half.cview()) == doctest::Approx(0.6524719203595767).epsilon(1e-9));
    CHECK(metrics::ssim(a.cview(), b.cview(), 1.0) == doctest::Approx(0.9174168679088496).epsilon(1e-9));
    CHECK(metrics::ssim(a.cview(), a.cview()) == doctest::Approx(1.0).epsilon(1e-12));
    CHECK_THROWS_WITH_AS(metrics::ssim(a.cview(), b.cview(), -1.0), "peak_to_peak = -1: must be > 0", invalid_argument);
    const host_tensor small(shape4{1, 1, 10, 40});
    CHECK_THROWS_WITH_AS(metrics::ssim(small.cview(), small.cview()),
                         "a = 10x40 px: ssim needs planes of at least 11 x 11 px (its Gaussian window)",
                         invalid_argument);
    CHECK_THROWS_AS(metrics::ssim(a.cview(), small.cview()), shape_error);
}
