// quadflow tensors: float32 NCHW views over user memory (host or device) and an owning host tensor.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "quadflow/core/config.hpp"
#include "quadflow/core/error.hpp"
#include "quadflow/core/host_memory.hpp"

namespace quadflow {

/// Where a view's pointer lives. Host code never dereferences a device view.
enum class memory_space { host, device };

/// Extents of an NCHW tensor.
struct shape4 {
    std::int64_t n = 0, c = 0, h = 0, w = 0;

    QUADFLOW_HOST_DEVICE constexpr std::int64_t numel() const { return n * c * h * w; }
    friend constexpr bool operator==(const shape4&, const shape4&) = default;
};

/// Whether every extent is >= 0 and the element count n * c * h * w fits in 64 bits.
constexpr bool element_count_fits(const shape4& s) {
    if (s.n < 0 || s.c < 0 || s.h < 0 || s.w < 0) return false;
    if (s.n == 0 || s.c == 0 || s.h == 0 || s.w == 0) return true;
    std::int64_t count = 1;
    for (std::int64_t extent : {s.n, s.c, s.h, s.w}) {
        if (count > std::numeric_limits<std::int64_t>::max() / extent) return false;
        count *= extent;
    }
    return true;
}

inline std::string to_string(const shape4& s) {
    std::string text = "[";
    for (std::int64_t extent : {s.n, s.c, s.h, s.w}) {
        if (text.size() > 1) text.append(", ");
        text.append(std::to_string(extent));
    }
    return text.append("]");
}

/// Element strides of an NCHW tensor (in elements, not bytes).
struct strides4 {
    std::int64_t n = 0, c = 0, h = 0, w = 0;
    friend constexpr bool operator==(const strides4&, const strides4&) = default;
};

QUADFLOW_HOST_DEVICE constexpr strides4 contiguous_strides(const shape4& s) {
    return {s.c * s.h * s.w, s.h * s.w, s.w, 1};
}

/// A non-owning NCHW view. `T` is `float` or `const float`.
template <class T>
class tensor_view {
public:
    using value_type = std::remove_const_t<T>;

    tensor_view() = default;

    /// Contiguous row-major view.
    tensor_view(T* data, shape4 shape, memory_space space = memory_space::host)
        : tensor_view(data, shape, contiguous_strides(shape), space) {}

    tensor_view(T* data, shape4 shape, strides4 strides, memory_space space = memory_space::host)
        : data_(data), shape_(shape), strides_(strides), space_(space) {
        validate();
    }

    /// Views over mutable memory convert to views over const memory.
    template <class U>
    requires(std::is_same_v<T, const U>) tensor_view(const tensor_view<U>& other)
        : data_(other.data()), shape_(other.shape()), strides_(other.strides()), space_(other.space()) {}

    T* data() const { return data_; }
    const shape4& shape() const { return shape_; }
    const strides4& strides() const { return strides_; }
    memory_space space() const { return space_; }
    std::int64_t numel() const { return shape_.numel(); }
    bool empty() const { return numel() == 0; }

    bool is_contiguous() const { return strides_ == contiguous_strides(shape_); }

    T& operator()(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const {
        return data_[n * strides_.n + c * strides_.c + h * strides_.h + w * strides_.w];
    }

    /// The elements of a contiguous host view as a span.
    std::span<T> span() const {
        if (!is_contiguous())
            throw shape_error("tensor_view::span: the view " + to_string(shape_) + " is not contiguous");
        if (space_ != memory_space::host) throw shape_error("tensor_view::span: the view is in device memory");
        return {data_, static_cast<std::size_t>(numel())};
    }

private:
    void validate() const {
        require(shape_.n >= 0 && shape_.c >= 0 && shape_.h >= 0 && shape_.w >= 0, "tensor_view.shape",
                to_string(shape_), "every extent must be >= 0");
        require(element_count_fits(shape_), "tensor_view.shape", to_string(shape_),
                "the element count overflows 64 bits");
        if (numel() > 0 && data_ == nullptr)
            throw invalid_argument("tensor_view.data", "nullptr", "a view of " + to_string(shape_) + " needs memory");
        if (reinterpret_cast<std::uintptr_t>(data_) % alignof(value_type) != 0)
            throw invalid_argument(
                "tensor_view.data", detail::to_text(static_cast<const void*>(data_)),
                "must be aligned to alignof(float) = " + std::to_string(alignof(value_type)) + " bytes");
    }

    T* data_ = nullptr;
    shape4 shape_{};
    strides4 strides_{};
    memory_space space_ = memory_space::host;
};

using const_view = tensor_view<const float>;
using mutable_view = tensor_view<float>;

/// Float storage of host tensors and of the field's buffers: 2 MiB and larger on transparent huge pages
/// (host_memory.hpp).
using host_buffer = std::vector<float, host_memory_allocator<float>>;

/// An owning, contiguous float32 NCHW tensor in host memory (large ones on huge pages, host_memory.hpp).
class host_tensor {
public:
    host_tensor() = default;
    explicit host_tensor(shape4 shape, float fill = 0.0f) : shape_(checked(shape)), data_(shape.numel(), fill) {}
    host_tensor(shape4 shape, const std::vector<float>& values)
        : shape_(checked(shape)), data_(values.begin(), values.end()) {
        if (static_cast<std::int64_t>(data_.size()) != shape_.numel())
            throw shape_error("host_tensor: " + std::to_string(data_.size()) + " values do not fill shape " +
                              to_string(shape_));
    }

    /// A tensor whose values are left unset, for code that writes every element before reading any.
    static host_tensor uninitialized(shape4 shape) {
        host_tensor t;
        t.shape_ = checked(shape);
        t.data_ = host_buffer(static_cast<std::size_t>(shape.numel()));
        return t;
    }

    const shape4& shape() const { return shape_; }
    std::int64_t numel() const { return shape_.numel(); }
    float* data() { return data_.data(); }
    const float* data() const { return data_.data(); }
    std::span<float> span() { return data_; }
    std::span<const float> span() const { return data_; }

    mutable_view view() { return {data_.data(), shape_}; }
    const_view view() const { return {data_.data(), shape_}; }
    const_view cview() const { return {data_.data(), shape_}; }

    float& operator()(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
        return data_[static_cast<std::size_t>(((n * shape_.c + c) * shape_.h + h) * shape_.w + w)];
    }
    float operator()(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const {
        return data_[static_cast<std::size_t>(((n * shape_.c + c) * shape_.h + h) * shape_.w + w)];
    }

private:
    static shape4 checked(shape4 s) {
        require(s.n >= 0 && s.c >= 0 && s.h >= 0 && s.w >= 0, "host_tensor.shape", to_string(s),
                "every extent must be >= 0");
        require(element_count_fits(s), "host_tensor.shape", to_string(s), "the element count overflows 64 bits");
        return s;
    }
    shape4 shape_{};
    host_buffer data_;
};

/// Throws shape_error unless `a` and `b` have the same shape.
inline void require_same_shape(const shape4& a, const shape4& b, std::string_view what_a, std::string_view what_b) {
    if (!(a == b))
        throw shape_error(std::string(what_a) + " has shape " + to_string(a) + " but " + std::string(what_b) +
                          " has shape " + to_string(b));
}

/// Throws shape_error unless the view lives in host memory (host code never dereferences device views).
template <class T>
void require_host(const tensor_view<T>& view, std::string_view what) {
    if (view.space() != memory_space::host)
        throw shape_error(std::string(what) + " is a device view where host memory is needed");
}

/// Throws shape_error unless the view is contiguous host memory.
template <class T>
void require_contiguous_host(const tensor_view<T>& view, std::string_view what) {
    require_host(view, what);
    if (!view.is_contiguous())
        throw shape_error(std::string(what) + " of shape " + to_string(view.shape()) + " must be contiguous");
}

}  // namespace quadflow
