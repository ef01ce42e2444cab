#include "core/collab/shape_map.hpp"

#include "core/common/error.hpp"
#include "core/common/json.hpp"

#include <fmt/format.h>

#include <charconv>
#include <utility>

namespace coord::collab {

bool writes_after(const Writer& a, const Writer& b) {
    if (a.lamport != b.lamport) return a.lamport > b.lamport;
    return a.client < b.client;
}

Lamport require_lamport(std::optional<std::int64_t> lamport) {
    if (!lamport) throw Error(sqlstate::null_value_not_allowed, "lamport must not be NULL");
    if (*lamport < 0)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("lamport must be 0 or more, not {}", *lamport));
    return *lamport;
}

std::vector<JsonMember> parse_fields(std::string_view json, const char* param) {
    std::vector<JsonMember> fields = json_object_members(json, param);
    if (fields.size() > kMaxFieldsPerShape)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("{} has {} fields, at most {}", param, fields.size(), kMaxFieldsPerShape));
    for (const JsonMember& f : fields)
        if (f.key.empty() || f.key.size() > kMaxFieldBytes)
            throw Error(sqlstate::invalid_parameter_value,
                        fmt::format("{}: a field name must have 1 to {} bytes", param, kMaxFieldBytes));
    return fields;
}

bool apply_fields(Shape& shape, const Writer& writer, const std::vector<JsonMember>& fields) {
    if (shape.deleted) return false;
    bool changed = false;
    for (const JsonMember& f : fields) {
        auto it = shape.fields.find(f.key);
        if (it == shape.fields.end()) {
            shape.fields.emplace(f.key, Field{f.value, writer});
            changed = true;
            continue;
        }
        Field& cur = it->second;
        bool wins = writes_after(writer, cur.writer) ||
                    (writer.lamport == cur.writer.lamport && writer.client == cur.writer.client &&
                     f.value < cur.value);
        if (!wins) continue;
        cur.value = f.value;
        cur.writer = writer;
        changed = true;
    }
    return changed;
}

bool apply_delete(Shape& shape) {
    if (shape.deleted) return false;
    shape.deleted = true;
    shape.fields.clear();
    return true;
}

std::string fields_json(const Shape& shape) {
    std::vector<std::pair<std::string, std::string>> members;
    for (const auto& [name, field] : shape.fields) members.emplace_back(name, field.value);
    return json_object_text(members);
}

std::string writers_json(const Shape& shape) {
    std::vector<std::pair<std::string, std::string>> members;
    for (const auto& [name, field] : shape.fields)
        members.emplace_back(name, fmt::format("[{}, {}]", field.writer.lamport,
                                               json_quote(field.writer.client)));
    return json_object_text(members);
}

namespace {

Writer parse_writer(std::string_view raw) {
    // [lamport, "client"]
    std::size_t open = raw.find('['), comma = raw.find(',');
    if (open == std::string_view::npos || comma == std::string_view::npos)
        throw Error(sqlstate::invalid_parameter_value, "malformed shape writer");
    std::string_view number = raw.substr(open + 1, comma - open - 1);
    while (!number.empty() && number.front() == ' ') number.remove_prefix(1);
    while (!number.empty() && number.back() == ' ') number.remove_suffix(1);
    Writer w;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), w.lamport);
    if (ec != std::errc()) throw Error(sqlstate::invalid_parameter_value, "malformed shape writer");
    std::string_view rest = raw.substr(comma + 1);
    std::size_t close = rest.rfind(']');
    w.client = json_string_value(rest.substr(0, close), "shape writer");
    return w;
}

}  // namespace

Shape shape_from_json(std::string_view fields, std::string_view writers, bool deleted) {
    Shape shape;
    shape.deleted = deleted;
    std::map<std::string, Writer> by_name;
    for (JsonMember& w : json_object_members(writers, "writers"))
        by_name.emplace(std::move(w.key), parse_writer(w.value));
    for (JsonMember& f : json_object_members(fields, "fields")) {
        Field field{std::move(f.value), {}};
        if (auto it = by_name.find(f.key); it != by_name.end()) field.writer = it->second;
        shape.fields.emplace(std::move(f.key), std::move(field));
    }
    return shape;
}

bool apply_op(Board& board, const ShapeOp& op) {
    Shape& shape = board[op.shape];
    return op.remove ? apply_delete(shape) : apply_fields(shape, op.writer, op.fields);
}

}  // namespace coord::collab
