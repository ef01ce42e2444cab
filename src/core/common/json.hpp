// JSON text for alert details, sweep reports and deadlock records.
#pragma once
#include "core/common/cpp_only.hpp"

#include <string>
#include <string_view>

namespace coord {

// The characters of `text` escaped for use inside a JSON string (no quotes).
std::string json_escape(std::string_view text);

// `text` as a JSON string, quotes included.
inline std::string json_quote(std::string_view text) { return '"' + json_escape(text) + '"'; }

}  // namespace coord
