// quadflow enum tables: one {value, name} table per enum gives its to_string, its parse and its names.
//
// An enum E takes part by declaring, in its own namespace (found by argument-dependent lookup),
//
//   constexpr auto enum_names(E) {
//       return make_enum_table<E>("parameter", "type", {{E::a, "a"}, {E::b, "b"}});
//   }
//
// where "parameter" names the value in error messages ("scheduler = karras: ...") and "type" is what an
// out-of-range value is not ("scheduler = 9: is not a scheduler"). Then, for that E:
//
//   quadflow::to_string(e)            the name of e; throws invalid_argument for a value outside the table
//   quadflow::parse<E>(name)          the value named `name`; throws invalid_argument
//   quadflow::parse<E>(name, param)     "param = name: must be one of a|b" (param defaults to the table's)
//   quadflow::names<E>()              std::array of the names, in table order (for CLIs)
//   quadflow::joined_names<E>()       "a|b"
//
// A std::variant of types that each have a `static constexpr std::string_view name` gets the same from
// its alternatives: alternative_names<V>(), joined_alternative_names<V>(), parse_alternative<V>(name, param)
// (the default-constructed alternative of that name) and alternative_name(v).
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "quadflow/core/error.hpp"

namespace quadflow {

template <class E>
struct enum_entry {
    E value;
    std::string_view name;
};

template <class E, std::size_t N>
struct enum_table {
    std::string_view parameter;  ///< the value's name in error messages
    std::string_view type;       ///< "is not a <type>" for a value outside the table
    std::array<enum_entry<E>, N> entries;
};

/// The table of `E` with `N` entries, deduced from the braced list.
template <class E, std::size_t N>
constexpr enum_table<E, N> make_enum_table(std::string_view parameter, std::string_view type,
                                           const enum_entry<E> (&entries)[N]) {
    enum_table<E, N> table{parameter, type, {}};
    for (std::size_t i = 0; i < N; ++i) table.entries[i] = entries[i];
    return table;
}

/// An enum with a table: `enum_names(E{})` is found by argument-dependent lookup.
template <class E>
concept named_enum = std::is_enum_v<E> && requires {
    enum_names(E{});
};

namespace detail {
template <named_enum E>
inline constexpr auto enum_table_of = enum_names(E{});

template <std::size_t N>
std::string joined(const std::array<std::string_view, N>& names) {
    std::string out;
    for (std::size_t i = 0; i < N; ++i) {
        if (i > 0) out += '|';
        out += names[i];
    }
    return out;
}
}  // namespace detail

/// The names of `E`, in table order.
template <named_enum E>
constexpr auto names() {
    constexpr auto& table = detail::enum_table_of<E>;
    std::array<std::string_view, table.entries.size()> out{};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = table.entries[i].name;
    return out;
}

/// "a|b|c": the names of `E` joined by '|', as error messages and CLI help list them.
template <named_enum E>
std::string joined_names() {
    return detail::joined(names<E>());
}

/// The name of `value`; throws invalid_argument ("parameter = 7: is not a type") for a value outside the table.
template <named_enum E>
constexpr std::string_view to_string(E value) {
    constexpr auto& table = detail::enum_table_of<E>;
    for (const auto& entry : table.entries)
        if (entry.value == value) return entry.name;
    throw invalid_argument(table.parameter, std::to_string(static_cast<long long>(value)),
                           "is not a " + std::string(table.type));
}

/// The value of `E` named `name`; throws invalid_argument "parameter = name: must be one of a|b|c".
template <named_enum E>
E parse(std::string_view name, std::string_view parameter = detail::enum_table_of<E>.parameter) {
    for (const auto& entry : detail::enum_table_of<E>.entries)
        if (entry.name == name) return entry.value;
    throw invalid_argument(parameter, name, "must be one of " + joined_names<E>());
}

/// A type with a `static constexpr std::string_view name` (a sampler, a policy).
template <class T>
concept named_type = requires {
    { T::name } -> std::convertible_to<std::string_view>;
};

namespace detail {
template <class V>
struct variant_of_named : std::false_type {};
template <class... T>
struct variant_of_named<std::variant<T...>> : std::bool_constant<(named_type<T> && ...)> {};

template <class... T>
constexpr std::array<std::string_view, sizeof...(T)> names_of(std::type_identity<std::variant<T...>>) {
    return {std::string_view(T::name)...};
}

template <class... T>
bool emplace_named(std::variant<T...>& out, std::string_view name) {
    return ((T::name == name ? (out.template emplace<T>(), true) : false) || ...);
}
}  // namespace detail

/// A std::variant whose alternatives are all named_type.
template <class V>
concept named_variant = detail::variant_of_named<V>::value;

/// The names of the alternatives of `V`, in alternative order.
template <named_variant V>
constexpr std::array<std::string_view, std::variant_size_v<V>> alternative_names() {
    return detail::names_of(std::type_identity<V>{});
}

/// "a|b|c": the names of the alternatives of `V` joined by '|'.
template <named_variant V>
std::string joined_alternative_names() {
    return detail::joined(alternative_names<V>());
}

/// The default-constructed alternative of `V` named `name`; throws invalid_argument
/// "parameter = name: must be one of a|b|c".
template <named_variant V>
V parse_alternative(std::string_view name, std::string_view parameter) {
    V out;
    if (!detail::emplace_named(out, name))
        throw invalid_argument(parameter, name, "must be one of " + joined_alternative_names<V>());
    return out;
}

/// The name of the alternative `v` holds.
template <named_variant V>
constexpr std::string_view alternative_name(const V& v) {
    return std::visit([](const auto& a) -> std::string_view { return std::remove_cvref_t<decltype(a)>::name; }, v);
}

}  // namespace quadflow
