// Shared by the unit tests: what a call threw, as (SQLSTATE, message).
#pragma once

#include "core/error.hpp"

#include <string>
#include <utility>

template <typename F>
std::pair<std::string, std::string> error_of(F f) {
    try {
        f();
    } catch (const coord::Error& e) {
        return {e.sqlstate(), e.what()};
    }
    return {"none", ""};
}
