// Tests of the enum tables (core/enum_table.hpp): every enum's names round-trip, parse errors name the
// parameter and list the names, to_string refuses a value outside the enum; the named variants (policies).
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "quadflow/blend/weights.hpp"
#include "quadflow/core/enum_table.hpp"
#include "quadflow/policy/any_policy.hpp"
#include "quadflow/policy/policies.hpp"
#include "quadflow/prediction/prediction.hpp"
#include "quadflow/schedule/schedule.hpp"
#include "quadflow/schedule/strength.hpp"
#include "quadflow/tile/grid.hpp"
#include "quadflow/tile/quadtree.hpp"

using namespace quadflow;

namespace {

/// What each enum's table must say: its error parameter, its type and its names in order.
template <class E>
void check_table(std::string_view parameter, std::string_view type, std::string_view joined) {
    CAPTURE(parameter);
    const auto all = names<E>();
    CHECK(joined_names<E>() == joined);
    REQUIRE(all.size() > 0);
    // Round trip through the generic and the namespace's own functions; every value appears once.
    for (std::size_t i = 0; i < all.size(); ++i) {
        const E value = parse<E>(all[i]);
        CHECK(static_cast<std::size_t>(value) == i);  // the tables list the enumerators in declaration order
        CHECK(quadflow::to_string(value) == all[i]);
        CHECK(to_string(value) == all[i]);  // the namespace's wrapper, by argument-dependent lookup
    }
    // parse errors name the parameter (the table's, or the caller's) and list every name.
    const std::string expected = std::string(parameter) + " = nope: must be one of " + std::string(joined);
    CHECK_THROWS_WITH_AS(parse<E>("nope"), expected.c_str(), invalid_argument);
    CHECK_THROWS_WITH_AS(parse<E>("nope", "--flag"), ("--flag = nope: must be one of " + std::string(joined)).c_str(),
                         invalid_argument);
    CHECK_THROWS_AS(parse<E>(""), invalid_argument);
    CHECK_THROWS_AS(parse<E>(std::string(all[0]) + " "), invalid_argument);  // exact match only
    try {
        parse<E>("nope");
    } catch (const invalid_argument& e) {
        CHECK(e.parameter() == parameter);
        CHECK(e.value() == "nope");
    }
    // A value outside the enum.
    const auto outside = static_cast<E>(static_cast<std::underlying_type_t<E>>(all.size()) + 40);
    const std::string not_a =
        std::string(parameter) + " = " + std::to_string(all.size() + 40) + ": is not a " + std::string(type);
    CHECK_THROWS_WITH_AS(quadflow::to_string(outside), not_a.c_str(), invalid_argument);
    CHECK_THROWS_WITH_AS(to_string(outside), not_a.c_str(), invalid_argument);
    CHECK_THROWS_AS(quadflow::to_string(static_cast<E>(-1)), invalid_argument);
}

}  // namespace

TEST_CASE("every enum's table round-trips, names its parameter on a bad name and refuses values outside it") {
    check_table<policy::preservation>("preservation", "preservation", "naive|exact");
    check_table<prediction::kind>("prediction_kind", "prediction::kind", "flow_velocity|denoised|t_velocity|epsilon");
    check_table<tile::spot_shift>("spot_shift", "spot_shift", "random|sorted|fibonacci");
    check_table<tile::leaf_strength_rule>("leaf_strength_rule", "leaf_strength_rule", "area|depth");
    check_table<blend::weight_kind>("weights", "weight_kind", "uniform|gaussian|smootherstep");
    check_table<schedule::scheduler>("scheduler", "scheduler",
                                     "flux|shift|diffusers-shift|comfy-simple|comfy-beta|linear");
    check_table<schedule::strength_rule>("strength_rule", "strength_rule", "comfy|diffusers|bfl|sdcpp");
}

TEST_CASE("the old parse_* functions are the tables' parse") {
    CHECK(policy::parse_preservation("exact") == policy::preservation::exact);
    CHECK(prediction::parse_kind("denoised") == prediction::kind::denoised);
    CHECK(tile::parse_spot_shift("fibonacci") == tile::spot_shift::fibonacci);
    CHECK(tile::parse_leaf_strength_rule("depth") == tile::leaf_strength_rule::depth);
    CHECK(blend::parse_weight_kind("smootherstep") == blend::weight_kind::smootherstep);
    CHECK(schedule::parse_scheduler("comfy-beta") == schedule::scheduler::comfy_beta);
    CHECK(schedule::parse_strength_rule("sdcpp") == schedule::strength_rule::sdcpp);
    CHECK_THROWS_WITH_AS(policy::parse_preservation("fuzzy"), "preservation = fuzzy: must be one of naive|exact",
                         invalid_argument);
    CHECK_THROWS_WITH_AS(schedule::parse_scheduler("karras"),
                         "scheduler = karras: must be one of flux|shift|diffusers-shift|comfy-simple|comfy-beta|linear",
                         invalid_argument);
    CHECK_THROWS_WITH_AS(blend::parse_weight_kind("box"), "weights = box: must be one of uniform|gaussian|smootherstep",
                         invalid_argument);
}

TEST_CASE("tables are usable at compile time") {
    static_assert(names<schedule::scheduler>().size() == 6);
    static_assert(names<schedule::scheduler>()[2] == "diffusers-shift");
    static_assert(quadflow::to_string(policy::preservation::exact) == "exact");
    static_assert(policy::to_string(policy::preservation::naive) == "naive");
    static_assert(named_enum<tile::leaf_strength_rule>);
    static_assert(!named_enum<int>);
    CHECK(true);
}

TEST_CASE("the policy names come from the policies' own name") {
    constexpr auto all = alternative_names<policy::any_policy>();
    CHECK(joined_alternative_names<policy::any_policy>() ==
          "scale|floor|preservation_blend|skip|strength|mask|progress_ramp|seed_scale|seed_floor|seed_ramp");
    for (std::size_t i = 0; i < all.size(); ++i) {
        const policy::any_policy p = policy::parse_policy(all[i]);
        CHECK(p.index() == i);
        CHECK(policy::name_of(p) == all[i]);
        CHECK(alternative_name(p) == all[i]);
    }
    CHECK_THROWS_WITH_AS(
        policy::parse_policy("hold"),
        "policy = hold: must be one of "
        "scale|floor|preservation_blend|skip|strength|mask|progress_ramp|seed_scale|seed_floor|seed_ramp",
        invalid_argument);
    CHECK_THROWS_WITH_AS(parse_alternative<policy::any_policy>("hold", "--policy"),
                         doctest::Contains("--policy = hold: must be one of scale|"), invalid_argument);
}

TEST_CASE("the floor policy carries its value; floor_070 names the same policy") {
    static_assert(std::is_same_v<policy::floor_070, policy::floor>);
    const policy::any_policy p = policy::parse_policy("floor_070");
    REQUIRE(std::holds_alternative<policy::floor>(p));
    CHECK(std::get<policy::floor>(p).value == 0.70f);
    policy::tile_context t;
    t.strength = 0.2f;
    CHECK(policy::floor{0.5f}.linear(t).model == 0.5f);
    t.strength = 0.9f;
    CHECK(policy::floor{0.5f}.linear(t).model == 0.9f);
}
