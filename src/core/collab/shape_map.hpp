// Whiteboards: a map of shapes, each a map of fields, merged on the server
// by last writer wins per field with Lamport clocks.
//
// - A write is (client, lamport, fields). A field takes the new value when
//   the write orders after the field's current writer: a higher lamport
//   wins; equal lamports go to the SMALLER client id; the same (lamport,
//   client) twice keeps the smaller value text (so any two writes resolve
//   the same way everywhere). Fields not named are untouched: a move (x, y)
//   and a resize (w, h) of one shape commute.
// - A delete is final: the first delete of a shape deletes it (true), every
//   later one is told it was already deleted (false), and a deleted shape
//   ignores field writes and has no fields. So a set of writes and deletes
//   gives the same board in every order and with duplicates.
#pragma once
#include "core/common/cpp_only.hpp"

#include "core/collab/json_object.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coord::collab {

using Lamport = std::int64_t;

// Documented limits (README, "Whiteboards").
inline constexpr std::size_t kMaxBoardBytes = 256;
inline constexpr std::size_t kMaxShapeBytes = 256;
inline constexpr std::size_t kMaxFieldBytes = 256;          // one field name
inline constexpr std::size_t kMaxFieldsPerShape = 256;
inline constexpr std::size_t kMaxFieldsJsonBytes = 64 * 1024;  // one write's fields, as jsonb
inline constexpr std::size_t kMaxBatchOps = 1000;

struct Writer {
    Lamport lamport = 0;
    std::string client;
};

// True when `a` orders after `b`: higher lamport, or equal and smaller client.
bool writes_after(const Writer& a, const Writer& b);

Lamport require_lamport(std::optional<std::int64_t> lamport);

struct Field {
    std::string value;  // raw JSON text
    Writer writer;
};

struct Shape {
    std::map<std::string, Field> fields;
    bool deleted = false;
};

// The fields of one write, from jsonb's text: an object of at most
// kMaxFieldsPerShape fields with names of 1..kMaxFieldBytes bytes (22023).
std::vector<JsonMember> parse_fields(std::string_view json, const char* param = "fields");

// Merges a write; true when a field changed. A deleted shape ignores it.
bool apply_fields(Shape& shape, const Writer& writer, const std::vector<JsonMember>& fields);

// Deletes the shape; true only for the first delete.
bool apply_delete(Shape& shape);

// The shape's fields as a JSON object, and its writers as
// {"field": [lamport, "client"], ...} (how the glue stores them).
std::string fields_json(const Shape& shape);
std::string writers_json(const Shape& shape);
// The inverse of the two above (22023 when `writers` is malformed).
Shape shape_from_json(std::string_view fields, std::string_view writers, bool deleted);

// The in-memory model of a board (unit tests' reference).
struct ShapeOp {
    std::string shape;
    Writer writer;
    std::vector<JsonMember> fields;  // empty and `remove` for a delete
    bool remove = false;
};
using Board = std::map<std::string, Shape>;
// Applies one op; true when it changed the board (a field, or the first delete).
bool apply_op(Board& board, const ShapeOp& op);

}  // namespace coord::collab
