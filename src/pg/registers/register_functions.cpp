// SQL entry points of compare-and-swap registers (extension/sql/62_registers.sql).
// The compare and the write are one UPDATE ... WHERE version = expected: the
// row lock makes it atomic. A swap that meets another transaction changing
// the key waits for that one transaction only and reads again (KeyedRow,
// write_attempt.hpp): never along the row's update chain for a later
// writer's whole transaction. Invoker rights: the role is taken at entry,
// the SQL runs as the extension's owner.
#include "core/common/error.hpp"
#include "core/common/validate.hpp"
#include "core/registers/register.hpp"
#include "pg/common/calling_role.hpp"
#include "pg/common/coord_relations.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/spi.hpp"
#include "pg/registers/write_attempt.hpp"

extern "C" {
#include "access/detoast.h"
}

using namespace coord;
using namespace coord::pg;

namespace {

// A swap that keeps missing a change made since its own snapshot.
constexpr int kMaxSwapRounds = 100;

struct StoredRegister {
    RegisterState state;
    Datum value;  // jsonb, in the caller's memory context
};

std::optional<StoredRegister> read_register(Spi& spi, std::string_view key) {
    static Statement select(
        "SELECT value, version, owner_role::pg_catalog.oid FROM coord.register_state WHERE key = $1",
        {TEXTOID}, /*generic_plan=*/true);
    spi.run(select, {text_param(key)});
    std::optional<Row> row = spi.first_row();
    if (!row) return std::nullopt;
    return StoredRegister{RegisterState{row->get_int64(2).value_or(0),
                                        static_cast<RoleId>(row->get_oid(3).value_or(InvalidOid))},
                          row->get_datum_copy(1, spi.caller_context()).value_or(Datum(0))};
}

// The first write of a key (expected version 0); false when it exists.
bool insert_first(Spi& spi, std::string_view key, Datum value, RoleId role) {
    static Statement insert(
        "INSERT INTO coord.register_state (key, value, version, owner_role, updated_at) "
        "VALUES ($1, $2, 1, $3, pg_catalog.clock_timestamp()) ON CONFLICT (key) DO NOTHING",
        {TEXTOID, JSONBOID, OIDOID}, /*generic_plan=*/true);
    return spi.run(insert, {text_param(key), datum_param(JSONBOID, value),
                            datum_param(OIDOID, ObjectIdGetDatum(role))}) == 1;
}

// The swap of version `expected`: the key's owner when it happened; none
// when it did not (then read again). A swap that lost keeps no lock.
std::optional<RoleId> swap(Spi& spi, std::string_view key, RegisterVersion expected, Datum value) {
    static Statement update(
        "UPDATE coord.register_state SET value = $3, version = version + 1, "
        "updated_at = pg_catalog.clock_timestamp() WHERE key = $1 AND version = $2 "
        "RETURNING owner_role::pg_catalog.oid",
        {TEXTOID, INT8OID, JSONBOID}, /*generic_plan=*/true);
    std::optional<RoleId> owner;
    KeyedRow{CoordRelation::register_state, CoordRelation::register_state_pkey, key}.write([&] {
        spi.run(update, {text_param(key), int64_param(expected), datum_param(JSONBOID, value)});
        if (std::optional<Row> row = spi.first_row())
            owner = static_cast<RoleId>(row->get_oid(1).value_or(InvalidOid));
        return owner.has_value();
    });
    return owner;
}

struct CasAnswer {
    bool swapped;
    std::optional<Datum> value;
    RegisterVersion version;
};

CasAnswer compare_and_swap(Spi& spi, const Caller& caller, std::string_view key,
                           RegisterVersion expected, Datum value) {
    for (int round = 0; round < kMaxSwapRounds; ++round) {
        if (expected == 0) {
            if (insert_first(spi, key, value, caller.role())) return {true, value, 1};
        } else if (std::optional<RoleId> owner = swap(spi, key, expected, value)) {
            // Another role's key: the error rolls the swap back.
            require_register_access(caller, *owner, key);
            return {true, value, expected + 1};
        }
        std::optional<StoredRegister> current = read_register(spi, key);
        if (current) require_register_access(caller, current->state.owner, key);
        std::optional<RegisterState> state;
        if (current) state = current->state;
        if (!cas_matches(state, expected)) {
            if (!current) return {false, std::nullopt, 0};
            return {false, current->value, current->state.version};
        }
        // The version reached `expected` only after the write looked: again.
    }
    throw Error(sqlstate::serialization_failure,
                fmt::format("register \"{}\" kept changing concurrently; retry", key));
}

std::string_view key_arg(const Args& args, int i) {
    return require_text(args.get_text(i), "key", kMaxRegisterKeyBytes);
}

Datum new_value_arg(const Args& args, int i) {
    Datum value = require_present(args.get_datum(i), "new_value");
    require_register_value_size(pg_call([&] { return toast_raw_datum_size(value); }) - VARHDRSZ);
    return value;
}

}  // namespace

COORD_FUNCTION(coord_register_get) {
    CallingRole caller;
    Args args(fcinfo);
    auto key = key_arg(args, 0);
    std::optional<StoredRegister> current = [&] {
        Spi spi;
        return read_register(spi, key);
    }();
    if (current) require_register_access(caller, current->state.owner, key);
    begin_result_set(fcinfo);
    Datum values[2] = {current ? current->value : Datum(0),
                       int64_datum(current ? current->state.version : 0)};
    bool nulls[2] = {!current, false};
    add_result_row(fcinfo, values, nulls);
    return Datum(0);
}

COORD_FUNCTION(coord_register_cas) {
    CallingRole caller;
    Args args(fcinfo);
    auto key = key_arg(args, 0);
    RegisterVersion expected = require_expected_version(args.get_int64(1));
    Datum value = new_value_arg(args, 2);
    CasAnswer answer = [&] {
        Spi spi;
        return compare_and_swap(spi, caller, key, expected, value);
    }();
    begin_result_set(fcinfo);
    Datum values[3] = {BoolGetDatum(answer.swapped), answer.value.value_or(Datum(0)),
                       int64_datum(answer.version)};
    bool nulls[3] = {false, !answer.value, false};
    add_result_row(fcinfo, values, nulls);
    return Datum(0);
}
