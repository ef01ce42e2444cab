#include "core/collab/json_object.hpp"

#include "core/common/error.hpp"
#include "core/common/json.hpp"

#include <fmt/format.h>

namespace coord::collab {

namespace {

[[noreturn]] void not_json(const char* param, const char* what) {
    throw Error(sqlstate::invalid_parameter_value, fmt::format("{} must be {}", param, what));
}

void skip_space(std::string_view t, std::size_t& i) {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\n' || t[i] == '\t' || t[i] == '\r')) ++i;
}

void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// A JSON string starting at t[i] == '"'; i ends after the closing quote.
std::string read_string(std::string_view t, std::size_t& i, const char* param) {
    if (i >= t.size() || t[i] != '"') not_json(param, "a JSON string");
    ++i;
    std::string out;
    while (i < t.size() && t[i] != '"') {
        char c = t[i++];
        if (c != '\\') {
            out += c;
            continue;
        }
        if (i >= t.size()) not_json(param, "valid JSON");
        char e = t[i++];
        switch (e) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'u': {
                if (i + 4 > t.size()) not_json(param, "valid JSON");
                unsigned cp = std::stoul(std::string(t.substr(i, 4)), nullptr, 16);
                i += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= t.size() && t[i] == '\\' && t[i + 1] == 'u') {
                    unsigned lo = std::stoul(std::string(t.substr(i + 2, 4)), nullptr, 16);
                    i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                append_utf8(out, cp);
                break;
            }
            default: out += e;
        }
    }
    if (i >= t.size()) not_json(param, "valid JSON");
    ++i;
    return out;
}

// Skips one JSON value starting at t[i].
void skip_value(std::string_view t, std::size_t& i, const char* param) {
    skip_space(t, i);
    if (i >= t.size()) not_json(param, "valid JSON");
    if (t[i] == '"') {
        read_string(t, i, param);
        return;
    }
    if (t[i] == '{' || t[i] == '[') {
        int depth = 0;
        while (i < t.size()) {
            char c = t[i];
            if (c == '"') {
                read_string(t, i, param);
                continue;
            }
            if (c == '{' || c == '[') ++depth;
            if (c == '}' || c == ']') {
                --depth;
                if (depth == 0) {
                    ++i;
                    return;
                }
            }
            ++i;
        }
        not_json(param, "valid JSON");
    }
    while (i < t.size() && t[i] != ',' && t[i] != '}' && t[i] != ']' && t[i] != ' ' && t[i] != '\n')
        ++i;
}

}  // namespace

std::vector<JsonMember> json_object_members(std::string_view t, const char* param) {
    std::vector<JsonMember> members;
    std::size_t i = 0;
    skip_space(t, i);
    if (i >= t.size() || t[i] != '{') not_json(param, "a JSON object");
    ++i;
    skip_space(t, i);
    if (i < t.size() && t[i] == '}') return members;
    while (i < t.size()) {
        skip_space(t, i);
        std::string key = read_string(t, i, param);
        skip_space(t, i);
        if (i >= t.size() || t[i] != ':') not_json(param, "valid JSON");
        ++i;
        skip_space(t, i);
        std::size_t start = i;
        skip_value(t, i, param);
        members.push_back({std::move(key), std::string(t.substr(start, i - start))});
        skip_space(t, i);
        if (i < t.size() && t[i] == ',') {
            ++i;
            continue;
        }
        if (i < t.size() && t[i] == '}') return members;
        not_json(param, "valid JSON");
    }
    not_json(param, "valid JSON");
}

std::string json_string_value(std::string_view raw, const char* param) {
    std::size_t i = 0;
    skip_space(raw, i);
    return read_string(raw, i, param);
}

std::string json_object_text(const std::vector<std::pair<std::string, std::string>>& members) {
    std::string out = "{";
    bool first = true;
    for (const auto& [key, value] : members) {
        if (!first) out += ", ";
        first = false;
        out += json_quote(key);
        out += ": ";
        out += value;
    }
    out += '}';
    return out;
}

}  // namespace coord::collab
