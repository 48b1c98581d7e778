// quadflow tile input: a non-owning view of an interleaved 8-bit RGB image, the pixels a quadtree is built on.
#pragma once

#include <cstdint>
#include <string>

#include "quadflow/core/error.hpp"

namespace quadflow::tile {

/// Interleaved RGB8 pixels (R, G, B bytes per pixel), rows `row_stride` bytes apart.
struct rgb_image_view {
    const std::uint8_t* data = nullptr;
    std::int64_t width = 0;       ///< pixels per row
    std::int64_t height = 0;      ///< rows
    std::int64_t row_stride = 0;  ///< bytes from one row to the next, >= 3 * width

    const std::uint8_t* row(std::int64_t y) const { return data + y * row_stride; }
    std::int64_t pixel_count() const { return width * height; }
};

/// A view over tightly packed rows (row_stride = 3 * width).
inline rgb_image_view packed_rgb_view(const std::uint8_t* data, std::int64_t width, std::int64_t height) {
    return {data, width, height, 3 * width};
}

/// Throws invalid_argument for a null pointer, a non-positive size or rows shorter than 3 * width bytes.
inline void validate(const rgb_image_view& image) {
    if (image.data == nullptr) throw invalid_argument("image.data", "nullptr", "an image needs pixels");
    require(image.width > 0, "image.width", image.width, "must be > 0");
    require(image.height > 0, "image.height", image.height, "must be > 0");
    require(image.row_stride / 3 >= image.width, "image.row_stride", image.row_stride,
            "must be >= 3 * width = 3 * " + std::to_string(image.width) + " bytes");
}

}  // namespace quadflow::tile
