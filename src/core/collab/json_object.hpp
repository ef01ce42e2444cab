// A minimal reader of one JSON object's members, for the collab glue: the
// text comes from PostgreSQL's jsonb output (already valid JSON), and each
// member's value is kept as its raw JSON text (jsonb prints it canonically,
// so equal values have equal text).
#pragma once
#include "core/common/cpp_only.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace coord::collab {

struct JsonMember {
    std::string key;    // unescaped
    std::string value;  // raw JSON text of the value
};

// The members of `text`, a JSON object, in order. Throws Error(22023) naming
// `param` when `text` is not an object.
std::vector<JsonMember> json_object_members(std::string_view text, const char* param);

// The unescaped string of a JSON string value's raw text ("\"a\\n\"" -> "a\n").
// Throws Error(22023) naming `param` when it is not a string.
std::string json_string_value(std::string_view raw, const char* param);

// Writes an object from members whose values are raw JSON text.
std::string json_object_text(const std::vector<std::pair<std::string, std::string>>& members);

}  // namespace coord::collab
