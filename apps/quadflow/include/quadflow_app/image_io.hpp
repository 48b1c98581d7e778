// quadflow app: RGB8 images loaded, saved and resized through stb, and small drawing helpers (rectangles, text,
// colours).
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <stb/stb_easy_font.h>
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>

#include "quadflow/core/error.hpp"
#include "quadflow/core/rect.hpp"
#include "quadflow/tile/image.hpp"
#include "quadflow_app/file_io.hpp"

namespace quadflow::app {

struct rgb {
    std::uint8_t r = 0, g = 0, b = 0;
    friend constexpr bool operator==(const rgb&, const rgb&) = default;
};

/// An owning 8-bit RGB image, rows top to bottom, 3 bytes per pixel, no row padding; with an optional alpha plane
/// (one byte per pixel) that the model never sees and the PNG writer keeps.
struct rgb_image {
    std::int64_t width = 0, height = 0;
    std::vector<std::uint8_t> pixels;
    std::vector<std::uint8_t> alpha;  ///< empty, or width * height bytes

    rgb_image() = default;
    rgb_image(std::int64_t w, std::int64_t h, rgb fill = {}) : width(w), height(h) {
        require(w >= 0 && h >= 0, "rgb_image size", std::to_string(w) + "x" + std::to_string(h), "must be >= 0");
        pixels.resize(static_cast<std::size_t>(w * h * 3));
        for (std::size_t i = 0; i < pixels.size(); i += 3) {
            pixels[i] = fill.r;
            pixels[i + 1] = fill.g;
            pixels[i + 2] = fill.b;
        }
    }

    tile::rgb_image_view view() const { return {pixels.data(), width, height, width * 3}; }

    rgb at(std::int64_t x, std::int64_t y) const {
        const std::uint8_t* p = pixels.data() + (y * width + x) * 3;
        return {p[0], p[1], p[2]};
    }
    void set(std::int64_t x, std::int64_t y, rgb colour) {
        std::uint8_t* p = pixels.data() + (y * width + x) * 3;
        p[0] = colour.r;
        p[1] = colour.g;
        p[2] = colour.b;
    }
};

/// Throws invalid_argument unless `b` has `a`'s size.
inline void require_same_size(const rgb_image& a, const rgb_image& b) {
    if (a.width != b.width || a.height != b.height)
        throw invalid_argument(
            "image size", std::to_string(b.width) + "x" + std::to_string(b.height),
            "must equal the other image's " + std::to_string(a.width) + "x" + std::to_string(a.height));
}

/// Mean (a - b)^2 over every byte (0..255 units) of two images of one size; throws invalid_argument otherwise.
inline double mean_squared_difference(const rgb_image& a, const rgb_image& b) {
    require_same_size(a, b);
    double sum = 0.0;
    for (std::size_t i = 0; i < a.pixels.size(); ++i) {
        const double d = int{a.pixels[i]} - int{b.pixels[i]};
        sum += d * d;
    }
    return a.pixels.empty() ? 0.0 : sum / static_cast<double>(a.pixels.size());
}

/// Mean |a - b| over every byte (0..255 units) of two images of one size; throws invalid_argument otherwise.
inline double mean_abs_difference(const rgb_image& a, const rgb_image& b) {
    require_same_size(a, b);
    double sum = 0.0;
    for (std::size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int{a.pixels[i]} - int{b.pixels[i]});
    return a.pixels.empty() ? 0.0 : sum / static_cast<double>(a.pixels.size());
}

namespace detail {
inline std::string stb_reason() {
    const char* reason = stbi_failure_reason();
    return reason ? reason : "unknown stb_image error";
}

struct file_closer {
    void operator()(std::FILE* file) const { std::fclose(file); }
};
struct stbi_freer {
    void operator()(unsigned char* data) const { stbi_image_free(data); }
};

struct image_size {
    std::int64_t width = 0, height = 0;
};

/// The size a PNG declares in its IHDR chunk, or nullopt for other data. stb_image refuses PNGs over 2^30 bytes
/// with "unknown type, or corrupt" once every other format fails too; reading the header here lets the loaders
/// name the size instead.
inline std::optional<image_size> declared_png_size(std::span<const std::uint8_t> bytes) {
    static constexpr unsigned char signature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (bytes.size() < 24 || std::memcmp(bytes.data(), signature, sizeof signature) != 0 ||
        std::memcmp(bytes.data() + 12, "IHDR", 4) != 0)
        return std::nullopt;
    auto big_endian = [&](std::size_t offset) {
        return std::int64_t{bytes[offset]} << 24 | std::int64_t{bytes[offset + 1]} << 16 |
               std::int64_t{bytes[offset + 2]} << 8 | std::int64_t{bytes[offset + 3]};
    };
    return image_size{big_endian(16), big_endian(20)};
}

inline void check_pixel_limit(const std::string& what, image_size size, std::int64_t max_pixels) {
    if (size.width <= 0 || size.height <= 0)
        throw io_error(what + "zero size " + std::to_string(size.width) + "x" + std::to_string(size.height));
    if (size.width > max_pixels / size.height) {
        // Sides come from 32-bit header fields, so their product fits in 64 unsigned bits.
        const std::uint64_t pixel_count =
            static_cast<std::uint64_t>(size.width) * static_cast<std::uint64_t>(size.height);
        throw io_error(what + std::to_string(size.width) + "x" + std::to_string(size.height) + " = " +
                       std::to_string(pixel_count) + " pixels is more than the limit of " + std::to_string(max_pixels));
    }
}

/// Largest encoded image stb_image takes (its buffer length is an int).
inline constexpr std::size_t max_encoded_bytes = static_cast<std::size_t>(std::numeric_limits<int>::max());

/// Every byte of `file`, read in chunks; throws io_error (prefixed by `what`) on a read error or over
/// max_encoded_bytes.
inline std::vector<std::uint8_t> read_all(std::FILE* file, const std::string& what) {
    std::vector<std::uint8_t> bytes;
    std::array<std::uint8_t, 1 << 16> chunk;
    for (;;) {
        errno = 0;
        const std::size_t read = std::fread(chunk.data(), 1, chunk.size(), file);
        bytes.insert(bytes.end(), chunk.data(), chunk.data() + read);
        if (bytes.size() > max_encoded_bytes)
            throw io_error(what + "the file is larger than " + std::to_string(max_encoded_bytes) +
                           " bytes, the most stb_image reads");
        if (read < chunk.size()) break;
    }
    if (std::ferror(file)) throw io_error(what + std::strerror(errno ? errno : EIO));
    return bytes;
}

/// Why a PNG would make stb_image allocate for data the file does not hold, or an empty string (always for other
/// data): stb_image grows its buffer to a chunk's declared length before reading it, so a 60-byte file declaring
/// a 2 GB IDAT chunk allocates 2 GB. Every chunk up to IEND must fit in the file.
inline std::string png_chunk_problem(std::span<const std::uint8_t> bytes) {
    static constexpr unsigned char signature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (bytes.size() < 8 || std::memcmp(bytes.data(), signature, sizeof signature) != 0) return {};
    std::size_t pos = 8;
    while (pos + 8 <= bytes.size()) {
        const std::size_t length = std::size_t{bytes[pos]} << 24 | std::size_t{bytes[pos + 1]} << 16 |
                                   std::size_t{bytes[pos + 2]} << 8 | std::size_t{bytes[pos + 3]};
        std::string type(reinterpret_cast<const char*>(bytes.data() + pos + 4), 4);
        if (type == "IEND") break;
        const std::size_t left = bytes.size() - (pos + 8);
        if (length > left) {
            for (char& ch : type)
                if (ch < 32 || ch > 126) ch = '?';
            return "chunk '" + type + "' declares " + std::to_string(length) + " bytes but " + std::to_string(left) +
                   " follow";
        }
        pos += 12 + length;  // length, type, data, CRC
    }
    return {};
}

/// Why the stb_image of Debian 12 (2.27) would go outside its Huffman tables on this JPEG, or an empty string
/// (always for other data): a table of more than 256 codes (it writes past the table) or a scan that decodes
/// with a table no DHT segment defined (it reads an uninitialised one). Walks the markers the way stb_image
/// does: segments by their length, entropy-coded data byte by byte.
inline std::string jpeg_huffman_problem(std::span<const std::uint8_t> bytes) {
    // stb_image takes any run of 0xFF before a marker code, the start-of-image marker (FF D8) included.
    std::size_t pos = 0;
    while (pos < bytes.size() && bytes[pos] == 0xFF) ++pos;
    if (pos == 0 || pos == bytes.size() || bytes[pos] != 0xD8) return {};
    ++pos;
    // Byte i, or 0 past the end, as stb_image reads it.
    const auto at = [&](std::size_t i) -> std::size_t { return i < bytes.size() ? bytes[i] : 0; };
    bool progressive = false;
    std::array<bool, 4> dc_defined{}, ac_defined{};
    while (pos + 1 < bytes.size()) {
        if (bytes[pos] != 0xFF) {
            ++pos;
            continue;
        }
        const std::uint8_t marker = bytes[pos + 1];
        if (marker == 0xFF) {
            ++pos;
            continue;
        }
        if (marker == 0x00 || marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) {
            pos += 2;  // stuffed zero, TEM, SOI, RSTn: no length
            continue;
        }
        if (marker == 0xD9) break;  // EOI
        const std::size_t length = at(pos + 2) << 8 | at(pos + 3);
        if (marker == 0xC2) progressive = true;
        if (marker == 0xC4) {  // DHT: tables of 1 + 16 + (sum of the 16 counts) bytes
            std::ptrdiff_t left = static_cast<std::ptrdiff_t>(length) - 2;
            std::size_t table = pos + 4;
            while (left > 0) {
                std::size_t codes = 0;
                for (std::size_t i = 1; i <= 16; ++i) codes += at(table + i);
                if (codes > 256) return "a Huffman table has more than 256 codes";
                const std::size_t kind = at(table) >> 4, slot = at(table) & 15;
                if (kind <= 1 && slot <= 3) (kind == 0 ? dc_defined : ac_defined)[slot] = true;
                table += 17 + codes;
                left -= static_cast<std::ptrdiff_t>(17 + codes);
            }
        }
        if (marker == 0xDA) {  // SOS: components (selector, DC table << 4 | AC table), then Ss, Se, Ah << 4 | Al
            const std::size_t components = std::min<std::size_t>(at(pos + 4), 4);
            const std::size_t spectral_start = at(pos + 5 + 2 * components);
            const std::size_t high_bit = at(pos + 7 + 2 * components) >> 4;
            const bool uses_dc = !progressive || (spectral_start == 0 && high_bit == 0);
            const bool uses_ac = !progressive || spectral_start != 0;
            for (std::size_t c = 0; c < components; ++c) {
                const std::size_t tables = at(pos + 6 + 2 * c), dc = tables >> 4, ac = tables & 15;
                if (dc > 3 || ac > 3) continue;  // stb_image refuses the scan
                if ((uses_dc && !dc_defined[dc]) || (uses_ac && !ac_defined[ac]))
                    return "a scan uses a Huffman table that no DHT segment defines";
            }
        }
        pos += 2 + length;
    }
    return {};
}

/// The EXIF orientation (1..8) of a JPEG's APP1 segment, or 1 when there is none (or it is unreadable): how a
/// camera says to turn the stored pixels for display (6: rotate 90 degrees clockwise, a phone's portrait).
inline int exif_orientation(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8) return 1;
    std::size_t pos = 2;
    while (pos + 4 <= bytes.size() && bytes[pos] == 0xFF) {
        const std::uint8_t marker = bytes[pos + 1];
        const std::size_t length = std::size_t{bytes[pos + 2]} << 8 | bytes[pos + 3];
        if (marker == 0xDA || marker == 0xD9 || length < 2) break;  // the scan starts: no more metadata
        const std::size_t body = pos + 4, end = std::min(bytes.size(), pos + 2 + length);
        if (marker == 0xE1 && end >= body + 14 && std::memcmp(&bytes[body], "Exif\0\0", 6) == 0) {
            const std::size_t tiff = body + 6;
            const bool big = bytes[tiff] == 'M';
            auto u16 = [&](std::size_t at) -> std::size_t {
                if (at + 2 > end) return 0;
                return big ? (std::size_t{bytes[at]} << 8 | bytes[at + 1])
                           : (std::size_t{bytes[at + 1]} << 8 | bytes[at]);
            };
            auto u32 = [&](std::size_t at) -> std::size_t {
                return big ? (u16(at) << 16 | u16(at + 2)) : (u16(at + 2) << 16 | u16(at));
            };
            const std::size_t ifd = tiff + u32(tiff + 4);
            const std::size_t entries = u16(ifd);
            for (std::size_t i = 0; i < entries && ifd + 2 + 12 * (i + 1) <= end; ++i) {
                const std::size_t entry = ifd + 2 + 12 * i;
                if (u16(entry) == 0x0112) {
                    const std::size_t value = u16(entry + 8);
                    return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
                }
            }
            return 1;
        }
        pos += 2 + length;
    }
    return 1;
}

/// `image` as EXIF `orientation` (1..8) says to display it.
inline rgb_image oriented(const rgb_image& image, int orientation) {
    if (orientation <= 1 || orientation > 8) return image;
    const bool swap = orientation >= 5;
    const std::int64_t W = image.width, H = image.height;
    rgb_image out(swap ? H : W, swap ? W : H);
    if (!image.alpha.empty()) out.alpha.resize(image.alpha.size());
    for (std::int64_t y = 0; y < out.height; ++y)
        for (std::int64_t x = 0; x < out.width; ++x) {
            std::int64_t sx = x, sy = y;  // the stored pixel shown at (x, y)
            switch (orientation) {
                case 2:
                    sx = W - 1 - x;
                    break;
                case 3:
                    sx = W - 1 - x, sy = H - 1 - y;
                    break;
                case 4:
                    sy = H - 1 - y;
                    break;
                case 5:
                    sx = y, sy = x;
                    break;
                case 6:
                    sx = y, sy = H - 1 - x;
                    break;
                case 7:
                    sx = W - 1 - y, sy = H - 1 - x;
                    break;
                case 8:
                    sx = W - 1 - y, sy = x;
                    break;
                default:
                    break;
            }
            out.set(x, y, image.at(sx, sy));
            if (!image.alpha.empty())
                out.alpha[static_cast<std::size_t>(y * out.width + x)] =
                    image.alpha[static_cast<std::size_t>(sy * W + sx)];
        }
    return out;
}

/// Decodes `bytes` as RGB8 (an alpha channel, if any, into rgb_image::alpha), turned as its EXIF orientation says;
/// `what` ("cannot read image 'name': ") prefixes every error. A 16-bit PNG is refused: its precision would be lost.
inline rgb_image decode_rgb(std::span<const std::uint8_t> bytes, std::int64_t max_pixels, const std::string& what) {
    require(max_pixels > 0, "max_pixels", max_pixels, "must be > 0");
    if (bytes.empty()) throw io_error(what + "empty (0 bytes)");
    if (bytes.size() > max_encoded_bytes)
        throw io_error(what + std::to_string(bytes.size()) + " bytes is more than the " +
                       std::to_string(max_encoded_bytes) + " stb_image reads");
    const int length = static_cast<int>(bytes.size());
    if (const auto png_size = declared_png_size(bytes)) check_pixel_limit(what, *png_size, max_pixels);
    if (const std::string problem = png_chunk_problem(bytes); !problem.empty())
        throw io_error(what + "Corrupt PNG: " + problem);
    if (const std::string problem = jpeg_huffman_problem(bytes); !problem.empty())
        throw io_error(what + "Corrupt JPEG: " + problem);
    int width = 0, height = 0, channels = 0;
    if (!stbi_info_from_memory(bytes.data(), length, &width, &height, &channels)) throw io_error(what + stb_reason());
    check_pixel_limit(what, {width, height}, max_pixels);
    if (stbi_is_16_bit_from_memory(bytes.data(), length))
        throw io_error(what +
                       "16 bits per channel; quadflow reads 8-bit images and would lose the precision "
                       "(convert it to 8 bits first)");

    // stb_image 2.27 expands a 16-bit PNM to RGB in 8-bit units, then reads that buffer as 16-bit, past its end:
    // PNM (P5 grey, P6 RGB) is decoded in its own channel count and expanded here, as stb_image would.
    const bool pnm = bytes.size() >= 2 && bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '6');
    const bool has_alpha = !pnm && (channels == 2 || channels == 4);
    std::unique_ptr<unsigned char, stbi_freer> decoded(stbi_load_from_memory(bytes.data(), length, &width, &height,
                                                                             &channels,
                                                                             pnm         ? 0
                                                                             : has_alpha ? 4
                                                                                         : 3));
    if (!decoded) throw io_error(what + stb_reason());
    const int stride = pnm ? channels : has_alpha ? 4 : 3;
    if (pnm && stride != 1 && stride != 3) throw io_error(what + std::to_string(stride) + " channels in a PNM");
    // The decoder reports the size again; copy what it decoded, not what the header promised.
    check_pixel_limit(what, {width, height}, max_pixels);
    rgb_image image;
    image.width = width;
    image.height = height;
    const std::size_t pixel_count = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
    if (stride == 3) {
        image.pixels.assign(decoded.get(), decoded.get() + pixel_count * 3);
    } else if (stride == 4) {
        image.pixels.resize(pixel_count * 3);
        image.alpha.resize(pixel_count);
        for (std::size_t i = 0; i < pixel_count; ++i) {
            std::memcpy(&image.pixels[i * 3], decoded.get() + i * 4, 3);
            image.alpha[i] = decoded.get()[i * 4 + 3];
        }
    } else {
        image.pixels.resize(pixel_count * 3);
        for (std::size_t i = 0; i < pixel_count; ++i) std::fill_n(image.pixels.data() + i * 3, 3, decoded.get()[i]);
    }
    return oriented(image, exif_orientation(bytes));
}
}  // namespace detail

/// Decodes an image held in memory (PNG, JPEG, BMP, GIF, TGA, PSD, HDR, PNM) as RGB8, with the checks of
/// load_rgb; `name` stands for the source in messages ("cannot read image '<name>': ...").
inline rgb_image load_rgb_from_memory(std::span<const std::uint8_t> bytes,
                                      std::int64_t max_pixels = std::int64_t{1} << 28,
                                      std::string_view name = "<memory>") {
    return detail::decode_rgb(bytes, max_pixels, "cannot read image '" + std::string(name) + "': ");
}

/// Loads any image stb_image reads (PNG, JPEG, BMP, GIF, TGA, PSD, HDR, PNM) as RGB8: the file is read into
/// memory and decoded by load_rgb_from_memory. The size is read from the header first, so an image over
/// `max_pixels` is refused before anything is decoded. Throws quadflow::io_error naming the path and the reason:
/// missing or unreadable file, unknown format, truncated or corrupt data, zero size, too many pixels.
inline rgb_image load_rgb(const std::string& path, std::int64_t max_pixels = std::int64_t{1} << 28) {
    require(max_pixels > 0, "max_pixels", max_pixels, "must be > 0");
    const std::string what = "cannot read image '" + path + "': ";
    std::unique_ptr<std::FILE, detail::file_closer> file(std::fopen(path.c_str(), "rb"));
    if (!file) throw io_error(what + std::strerror(errno));
    const std::vector<std::uint8_t> bytes = detail::read_all(file.get(), what);
    return load_rgb_from_memory(bytes, max_pixels, path);
}

namespace detail {
/// Throws io_error (prefixed by `what`) for a size outside 1..max_width x 1..max_height or a pixel buffer that
/// does not hold width * height * 3 bytes.
inline void check_image_to_write(const std::string& what, const rgb_image& image, std::int64_t max_width,
                                 std::int64_t max_height) {
    if (image.width <= 0 || image.height <= 0 || image.width > max_width || image.height > max_height)
        throw io_error(what + "unsupported size " + std::to_string(image.width) + "x" + std::to_string(image.height));
    if (image.pixels.size() != static_cast<std::size_t>(image.width * image.height * 3))
        throw io_error(what + "pixel buffer has " + std::to_string(image.pixels.size()) + " bytes, expected " +
                       std::to_string(image.width * image.height * 3));
}
}  // namespace detail

namespace detail {
/// stb_image_write's sink into a std::string.
inline void append_bytes(void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}
}  // namespace detail

/// `image` encoded as an 8-bit PNG, RGB or, with an alpha plane, RGBA; throws quadflow::io_error naming `path`.
inline std::string encode_png(const std::string& path, const rgb_image& image) {
    const std::string what = "cannot write '" + path + "': ";
    detail::check_image_to_write(what, image, std::numeric_limits<int>::max() / 4, std::numeric_limits<int>::max());
    const std::size_t count = static_cast<std::size_t>(image.width * image.height);
    if (!image.alpha.empty() && image.alpha.size() != count)
        throw io_error(what + "alpha plane has " + std::to_string(image.alpha.size()) + " bytes, expected " +
                       std::to_string(count));
    std::vector<std::uint8_t> rgba;
    const std::uint8_t* data = image.pixels.data();
    int channels = 3;
    if (!image.alpha.empty()) {
        rgba.resize(count * 4);
        for (std::size_t i = 0; i < count; ++i) {
            std::memcpy(&rgba[i * 4], &image.pixels[i * 3], 3);
            rgba[i * 4 + 3] = image.alpha[i];
        }
        data = rgba.data();
        channels = 4;
    }
    std::string bytes;
    if (!stbi_write_png_to_func(detail::append_bytes, &bytes, static_cast<int>(image.width),
                                static_cast<int>(image.height), channels, data,
                                static_cast<int>(image.width) * channels))
        throw io_error(what + "stb_image_write could not encode the PNG");
    return bytes;
}

/// Writes `image` as an 8-bit RGB (or RGBA) PNG, replacing `path` only once the whole file is written
/// (app::write_file); throws quadflow::io_error naming the path on failure.
inline void save_png(const std::string& path, const rgb_image& image) { write_file(path, encode_png(path, image)); }

/// Writes `image` as a JPEG of the given quality (1..100), as save_png writes (JPEG has no alpha: RGB only); throws
/// quadflow::io_error naming the path on failure.
inline void save_jpeg(const std::string& path, const rgb_image& image, int quality = 95) {
    const std::string what = "cannot write '" + path + "': ";
    detail::check_image_to_write(what, image, 65535, 65535);
    if (!image.alpha.empty()) throw io_error(what + "JPEG has no alpha channel; write this RGBA image as .png");
    std::string bytes;
    if (!stbi_write_jpg_to_func(detail::append_bytes, &bytes, static_cast<int>(image.width),
                                static_cast<int>(image.height), 3, image.pixels.data(), quality))
        throw io_error(what + "stb_image_write could not encode the JPEG");
    write_file(path, bytes);
}

/// PNG for .png, JPEG for .jpg and .jpeg (any case); any other extension is an io_error.
inline void save_image(const std::string& path, const rgb_image& image) {
    std::string lower = path;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower.ends_with(".png"))
        save_png(path, image);
    else if (lower.ends_with(".jpg") || lower.ends_with(".jpeg"))
        save_jpeg(path, image);
    else
        throw io_error("cannot write '" + path + "': unknown image extension (use .png, .jpg or .jpeg)");
}

/// Fills `area` (clipped to the image) with `colour`.
enum class resize_filter {
    box,          ///< area average: a halving gives the exact mean of each 2 x 2 block
    catmull_rom,  ///< bicubic interpolation (Catmull-Rom, a = -0.5: PIL's BICUBIC kernel)
};

/// `image` resized to width x height by stb_image_resize, on the 8-bit values as they are (no sRGB linearisation),
/// edges clamped. Throws invalid_argument naming a size outside [1, 2^16] or an empty image.
inline rgb_image resize(const rgb_image& image, std::int64_t width, std::int64_t height, resize_filter filter) {
    constexpr std::int64_t max_side = std::int64_t{1} << 16;
    const auto size = [](std::int64_t w, std::int64_t h) { return std::to_string(w) + "x" + std::to_string(h); };
    require(image.width >= 1 && image.height >= 1 && image.width <= max_side && image.height <= max_side, "image",
            size(image.width, image.height), "must be 1x1 to 65536x65536 px to resize");
    require(width >= 1 && height >= 1 && width <= max_side && height <= max_side, "resize size", size(width, height),
            "must be 1x1 to 65536x65536 px");
    rgb_image out(width, height);
    const stbir_filter kind = filter == resize_filter::box ? STBIR_FILTER_BOX : STBIR_FILTER_CATMULLROM;
    const int ok =
        stbir_resize_uint8_generic(image.pixels.data(), static_cast<int>(image.width), static_cast<int>(image.height),
                                   static_cast<int>(image.width * 3), out.pixels.data(), static_cast<int>(width),
                                   static_cast<int>(height), static_cast<int>(width * 3), 3, STBIR_ALPHA_CHANNEL_NONE,
                                   0, STBIR_EDGE_CLAMP, kind, STBIR_COLORSPACE_LINEAR, nullptr);
    if (!ok) throw io_error("resize: stb_image_resize could not allocate its buffers for " + size(width, height));
    return out;
}

inline void fill_rect(rgb_image& image, const rect& area, rgb colour) {
    const std::int64_t x0 = std::max<std::int64_t>(area.x, 0), x1 = std::min(area.right(), image.width);
    const std::int64_t y0 = std::max<std::int64_t>(area.y, 0), y1 = std::min(area.bottom(), image.height);
    for (std::int64_t y = y0; y < y1; ++y)
        for (std::int64_t x = x0; x < x1; ++x) image.set(x, y, colour);
}

/// Draws the outline of `area` `thickness` pixels wide, inside the rectangle.
inline void draw_rect_outline(rgb_image& image, const rect& area, rgb colour, std::int64_t thickness = 1) {
    const std::int64_t t = std::clamp<std::int64_t>(thickness, 1, std::max<std::int64_t>(1, std::min(area.w, area.h)));
    fill_rect(image, {area.x, area.y, area.w, t}, colour);
    fill_rect(image, {area.x, area.bottom() - t, area.w, t}, colour);
    fill_rect(image, {area.x, area.y, t, area.h}, colour);
    fill_rect(image, {area.right() - t, area.y, t, area.h}, colour);
}

namespace detail {
/// stb_easy_font draws only printable ASCII; anything else becomes '?'.
inline std::string printable(std::string_view text) {
    std::string out(text);
    for (char& ch : out)
        if (ch < 32 || ch > 126) ch = '?';
    return out;
}
}  // namespace detail

/// Width in pixels of one line of `text` drawn by draw_text at `scale`.
inline std::int64_t text_width(std::string_view text, int scale = 1) {
    std::string line = detail::printable(text);
    // stb_easy_font counts the one-unit gap after the last glyph; drop it.
    return line.empty() ? 0 : std::int64_t{stb_easy_font_width(line.data()) - 1} * scale;
}

/// Height in pixels of capitals and digits drawn by draw_text at `scale` (descenders go 2 * scale lower).
inline std::int64_t text_height(int scale = 1) { return std::int64_t{7} * scale; }

/// Draws one line of `text` with stb_easy_font, its top-left corner at (x, y), each font unit `scale` pixels.
inline void draw_text(rgb_image& image, std::int64_t x, std::int64_t y, std::string_view text, rgb colour,
                      int scale = 1) {
    std::string line = detail::printable(text);
    if (line.empty()) return;
    struct vertex {
        float x, y, z;
        unsigned char colour[4];
    };
    std::vector<vertex> vertices(line.size() * 4 * 32);
    const int quads = stb_easy_font_print(0.0f, 0.0f, line.data(), nullptr, vertices.data(),
                                          static_cast<int>(vertices.size() * sizeof(vertex)));
    for (int q = 0; q < quads; ++q) {
        const vertex& top_left = vertices[static_cast<std::size_t>(q) * 4];
        const vertex& bottom_right = vertices[static_cast<std::size_t>(q) * 4 + 2];
        const auto x0 = static_cast<std::int64_t>(std::lround(top_left.x * scale));
        const auto y0 = static_cast<std::int64_t>(std::lround(top_left.y * scale));
        const auto x1 = static_cast<std::int64_t>(std::lround(bottom_right.x * scale));
        const auto y1 = static_cast<std::int64_t>(std::lround(bottom_right.y * scale));
        fill_rect(image, {x + x0, y + y0, x1 - x0, y1 - y0}, colour);
    }
}

/// Thumbnails in a grid of `columns`, each with a caption: a title line, then smaller detail lines. Throws
/// invalid_argument for columns < 1.
inline rgb_image contact_sheet(const std::vector<std::pair<rgb_image, std::vector<std::string>>>& panels, int columns) {
    require(columns >= 1, "columns", columns, "must be >= 1");
    const int title_scale = 2, detail_scale = 1, margin = 8;
    const auto title_line = text_height(title_scale) + 6, detail_line = text_height(detail_scale) + 5;
    std::int64_t cell_w = 0, cell_h = 0;
    std::size_t caption_lines = 1;
    for (const auto& [img, caption] : panels) {
        cell_w = std::max(cell_w, img.width);
        cell_h = std::max(cell_h, img.height);
        caption_lines = std::max(caption_lines, caption.size());
    }
    const std::int64_t label_h = title_line + static_cast<std::int64_t>(caption_lines - 1) * detail_line + margin;
    const std::int64_t rows = (static_cast<std::int64_t>(panels.size()) + columns - 1) / columns;
    rgb_image sheet(columns * (cell_w + margin) + margin, rows * (cell_h + label_h + margin) + margin, {24, 24, 28});
    for (std::size_t i = 0; i < panels.size(); ++i) {
        const std::int64_t x0 = margin + static_cast<std::int64_t>(i % columns) * (cell_w + margin);
        const std::int64_t y0 = margin + static_cast<std::int64_t>(i / columns) * (cell_h + label_h + margin);
        const auto& [img, caption] = panels[i];
        for (std::int64_t y = 0; y < img.height; ++y)
            for (std::int64_t x = 0; x < img.width; ++x) sheet.set(x0 + x, y0 + y, img.at(x, y));
        std::int64_t y = y0 + cell_h + 5;
        for (std::size_t k = 0; k < caption.size(); ++k) {
            const bool title = k == 0;
            draw_text(sheet, x0, y, caption[k], title ? rgb{255, 255, 255} : rgb{190, 190, 200},
                      title ? title_scale : detail_scale);
            y += title ? title_line : detail_line;
        }
    }
    return sheet;
}

/// A bright turbo-like colour map: t in [0, 1] (clamped) from blue through cyan, green and amber to red. Unlike
/// viridis it has no dark end, so every value stays visible over dark and light parts of a photograph.
inline rgb colour_map(double t) {
    static constexpr std::array<std::array<double, 3>, 5> stops{{
        {60, 120, 255},
        {0, 200, 220},
        {110, 220, 70},
        {255, 200, 0},
        {255, 60, 40},
    }};
    if (!std::isfinite(t)) t = 0.0;
    const double position = std::clamp(t, 0.0, 1.0) * (stops.size() - 1);
    const std::size_t lower = std::min<std::size_t>(static_cast<std::size_t>(position), stops.size() - 2);
    const double fraction = position - static_cast<double>(lower);
    auto channel = [&](std::size_t c) {
        const double value = stops[lower][c] + (stops[lower + 1][c] - stops[lower][c]) * fraction;
        return static_cast<std::uint8_t>(std::lround(value));
    };
    return {channel(0), channel(1), channel(2)};
}

}  // namespace quadflow::app
