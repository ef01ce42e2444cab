// Shared by the unit tests: what a call threw.
#pragma once

#include "core/common/error.hpp"

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

// Just the SQLSTATE ("none" when nothing was thrown).
template <typename F>
std::string sqlstate_of(F f) {
    return error_of(f).first;
}
