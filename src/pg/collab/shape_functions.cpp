// SQL entry points of whiteboard shape maps (extension/sql/70_collab.sql):
// coord.shape_apply, coord.shape_delete, coord.shape_apply_batch,
// coord.board. The merge is the core's (core/collab/shape_map.hpp); a
// shape's row is locked (SELECT ... FOR UPDATE) for the merge, so two
// concurrent writes of one shape are merged one after the other and two
// deletes are decided one after the other (the second sees the first).
#include "core/collab/shape_map.hpp"
#include "core/collab/update_log.hpp"  // kMaxClientBytes: one limit for client ids
#include "core/common/error.hpp"
#include "core/common/validate.hpp"
#include "pg/collab/collab_datum.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/run_as_owner.hpp"
#include "pg/common/spi.hpp"

#include <algorithm>

using namespace coord;
using namespace coord::collab;
using namespace coord::pg;

namespace {

struct Op {
    std::string shape;
    Writer writer;
    std::vector<JsonMember> fields;
    bool remove = false;
    std::size_t index = 0;  // in the batch
};

// The shape's row, locked; nullopt when it does not exist.
std::optional<Shape> lock_shape(Spi& spi, std::string_view board, std::string_view shape) {
    static Statement select(
        "SELECT fields::text, writers::text, deleted FROM coord.shapes "
        "WHERE board = $1 AND shape = $2 FOR UPDATE",
        {TEXTOID, TEXTOID}, /*generic_plan=*/true);
    spi.run(select, {text_param(board), text_param(shape)});
    std::optional<Row> row = spi.first_row();
    if (!row) return std::nullopt;
    return shape_from_json(*row->get_text(1), *row->get_text(2), row->get_boolean(3).value_or(false));
}

bool insert_shape(Spi& spi, std::string_view board, std::string_view name, const Shape& shape) {
    static Statement insert(
        "INSERT INTO coord.shapes (board, shape, fields, writers, deleted, updated_at) "
        "VALUES ($1, $2, $3::pg_catalog.jsonb, $4::pg_catalog.jsonb, $5, pg_catalog.clock_timestamp()) "
        "ON CONFLICT DO NOTHING",
        {TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID}, /*generic_plan=*/true);
    return spi.run(insert, {text_param(board), text_param(name), text_param(fields_json(shape)),
                            text_param(writers_json(shape)), bool_param(shape.deleted)}) == 1;
}

void update_shape(Spi& spi, std::string_view board, std::string_view name, const Shape& shape) {
    static Statement update(
        "UPDATE coord.shapes SET fields = $3::pg_catalog.jsonb, writers = $4::pg_catalog.jsonb, "
        "deleted = $5, updated_at = pg_catalog.clock_timestamp() WHERE board = $1 AND shape = $2",
        {TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID}, /*generic_plan=*/true);
    spi.run(update, {text_param(board), text_param(name), text_param(fields_json(shape)),
                     text_param(writers_json(shape)), bool_param(shape.deleted)});
}

void require_merged_size(const Shape& shape, std::string_view name) {
    if (shape.fields.size() > kMaxFieldsPerShape)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("shape \"{}\" would have {} fields, at most {}", name,
                                shape.fields.size(), kMaxFieldsPerShape));
}

// Applies one op to its locked (or new) row. Returns whether it changed the
// board, and the shape after it.
std::pair<bool, Shape> apply(Spi& spi, std::string_view board, const Op& op) {
    for (int round = 0; round < 2; ++round) {
        std::optional<Shape> current = lock_shape(spi, board, op.shape);
        Shape shape = current.value_or(Shape{});
        bool changed = op.remove ? apply_delete(shape) : apply_fields(shape, op.writer, op.fields);
        require_merged_size(shape, op.shape);
        if (current) {
            if (changed) update_shape(spi, board, op.shape, shape);
            return {changed, shape};
        }
        if (insert_shape(spi, board, op.shape, shape)) return {changed, shape};
        // Inserted concurrently: merge into that row, now locked by nobody else.
    }
    throw Error(sqlstate::serialization_failure,
                fmt::format("shape \"{}\" kept changing concurrently; retry", op.shape));
}

std::vector<JsonMember> fields_arg(Datum value) {
    if (varlena_bytes(value) > kMaxFieldsJsonBytes)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("fields is too large ({} bytes as jsonb, at most {})", varlena_bytes(value),
                                kMaxFieldsJsonBytes));
    return parse_fields(jsonb_text(value));
}

Datum shape_result(const Shape& shape) { return jsonb_datum(fields_json(shape)); }

}  // namespace

COORD_FUNCTION(coord_shape_apply) {
    Args args(fcinfo);
    std::string_view board = require_text(args.get_text(0), "board", kMaxBoardBytes);
    Op op;
    op.shape = std::string(require_text(args.get_text(1), "shape", kMaxShapeBytes));
    op.writer.client = std::string(require_text(args.get_text(2), "client", kMaxClientBytes));
    op.writer.lamport = require_lamport(args.get_int64(3));
    op.fields = fields_arg(require_present(args.get_datum(4), "fields"));
    Shape shape = [&] {
        Spi spi;
        OwnerSql as_owner;  // one owner scope for all its statements
        return apply(spi, board, op).second;
    }();
    if (shape.deleted) return null_result(fcinfo);
    return shape_result(shape);
}

COORD_FUNCTION(coord_shape_delete) {
    Args args(fcinfo);
    std::string_view board = require_text(args.get_text(0), "board", kMaxBoardBytes);
    Op op;
    op.shape = std::string(require_text(args.get_text(1), "shape", kMaxShapeBytes));
    op.writer.client = std::string(require_text(args.get_text(2), "client", kMaxClientBytes));
    op.writer.lamport = require_lamport(args.get_int64(3));
    op.remove = true;
    bool first = [&] {
        Spi spi;
        OwnerSql as_owner;  // one owner scope for all its statements
        return apply(spi, board, op).first;
    }();
    return BoolGetDatum(first);
}

namespace {

[[noreturn]] void bad_op(std::size_t i, const std::string& what) {
    throw Error(sqlstate::invalid_parameter_value, fmt::format("ops[{}]: {}", i, what));
}

std::vector<Op> parse_ops(Spi& spi, Datum ops) {
    static Statement elements(
        "SELECT pg_catalog.jsonb_typeof($1), e.op ->> 'shape', e.op ->> 'client', "
        "       e.op -> 'lamport', (e.op -> 'fields')::text, e.op -> 'delete', pg_catalog.jsonb_typeof(e.op), "
        "       (SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_object_keys(CASE WHEN pg_catalog.jsonb_typeof(e.op) = 'object' THEN e.op ELSE '{}' END) k "
        "        WHERE k NOT IN ('shape', 'client', 'lamport', 'fields', 'delete')) "
        "FROM (SELECT 1) one LEFT JOIN LATERAL pg_catalog.jsonb_array_elements("
        "  CASE WHEN pg_catalog.jsonb_typeof($1) = 'array' THEN $1 ELSE '[]' END) WITH ORDINALITY e(op, i) ON true "
        "ORDER BY e.i",
        {JSONBOID}, /*generic_plan=*/true);
    spi.run(elements, {datum_param(JSONBOID, ops)});
    std::vector<Op> out;
    if (spi.rows() == 0 || spi.row(0).get_text(1).value_or("") != "array")
        throw Error(sqlstate::invalid_parameter_value, "ops must be a JSON array of operations");
    if (spi.rows() > kMaxBatchOps)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("ops has {} operations, at most {}", spi.rows(), kMaxBatchOps));
    for (std::uint64_t i = 0; i < spi.rows(); ++i) {
        Row row = spi.row(i);
        if (!row.get_text(7)) break;  // an empty array
        if (*row.get_text(7) != "object") bad_op(i, "an operation must be a JSON object");
        if (row.get_int64(8).value_or(0) > 0)
            bad_op(i, "keys are shape, client, lamport, and fields or \"delete\": true");
        Op op;
        op.index = i;
        std::optional<std::string> shape = row.get_text(2), client = row.get_text(3);
        if (!shape || shape->empty() || shape->size() > kMaxShapeBytes)
            bad_op(i, fmt::format("shape must be a string of 1 to {} bytes", kMaxShapeBytes));
        if (!client || client->empty() || client->size() > kMaxClientBytes)
            bad_op(i, fmt::format("client must be a string of 1 to {} bytes", kMaxClientBytes));
        op.shape = *shape;
        op.writer.client = *client;
        std::optional<Datum> lamport = row.get_datum_copy(4, CurrentMemoryContext);
        std::string lamport_text = lamport ? jsonb_text(*lamport) : "";
        char* end = nullptr;
        long long value = lamport ? std::strtoll(lamport_text.c_str(), &end, 10) : -1;
        if (!lamport || end == lamport_text.c_str() || *end != '\0' || value < 0)
            bad_op(i, "lamport must be an integer >= 0");
        op.writer.lamport = value;
        std::optional<Datum> del = row.get_datum_copy(6, CurrentMemoryContext);
        std::optional<std::string> fields = row.get_text(5);
        if (del) {
            if (jsonb_text(*del) != "true" || fields) bad_op(i, "\"delete\" must be true, without fields");
            op.remove = true;
        } else {
            if (!fields) bad_op(i, "fields (an object) or \"delete\": true is required");
            std::string param = fmt::format("ops[{}].fields", i);
            op.fields = parse_fields(*fields, param.c_str());
        }
        out.push_back(std::move(op));
    }
    return out;
}

}  // namespace

COORD_FUNCTION(coord_shape_apply_batch) {
    Args args(fcinfo);
    std::string_view board = require_text(args.get_text(0), "board", kMaxBoardBytes);
    Datum ops_arg = require_present(args.get_datum(1), "ops");
    if (varlena_bytes(ops_arg) > 16 * 1024 * 1024)
        throw Error(sqlstate::invalid_parameter_value, "ops is too large (at most 16 MiB as jsonb)");
    std::int32_t applied = [&] {
        Spi spi;
        OwnerSql as_owner;
        std::vector<Op> ops = parse_ops(spi, ops_arg);
        // Every op is valid: apply them shape by shape in name order (so two
        // batches lock shared shapes in the same order), each shape's ops in
        // batch order.
        std::stable_sort(ops.begin(), ops.end(), [](const Op& a, const Op& b) { return a.shape < b.shape; });
        std::int32_t n = 0;
        for (const Op& op : ops) n += apply(spi, board, op).first ? 1 : 0;
        return n;
    }();
    return Int32GetDatum(applied);
}

COORD_FUNCTION(coord_board) {
    Args args(fcinfo);
    std::string_view board = require_text(args.get_text(0), "board", kMaxBoardBytes);
    begin_result_set(fcinfo);
    Spi spi;
    static Statement select(
        "SELECT shape, CASE WHEN deleted THEN NULL ELSE fields END, deleted FROM coord.shapes "
        "WHERE board = $1 ORDER BY shape",
        {TEXTOID}, /*generic_plan=*/true);
    spi.run(select, {text_param(board)});
    for (std::uint64_t i = 0; i < spi.rows(); ++i) {
        Row row = spi.row(i);
        std::optional<std::string> shape = row.get_text(1);
        std::optional<Datum> fields = row.get_datum_copy(2, spi.caller_context());
        Datum values[3] = {text_datum(*shape), fields.value_or(Datum(0)),
                           BoolGetDatum(row.get_boolean(3).value_or(false))};
        bool nulls[3] = {false, !fields, false};
        add_result_row(fcinfo, values, nulls);
    }
    return Datum(0);
}
