// SQL entry points of the lease API (extension/sql/10_leases.sql) and of
// waiting for leases (extension/sql/12_waiting.sql).
#include "core/common/error.hpp"
#include "core/common/validate.hpp"
#include "pg/common/calling_role.hpp"
#include "pg/common/datum.hpp"
#include "pg/leases/leases.hpp"
#include "pg/leases/memory_table.hpp"
#include "pg/waiting/waiting.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
}

#include <algorithm>
#include <functional>

using namespace coord;
using namespace coord::pg;

namespace {

// Documented limits (README, "Waiting, fairness and deadlocks").
constexpr Micros kMaxWaitFor = kMicrosPerDay;
constexpr std::size_t kMaxAcquireAllNames = 100;

std::string_view lease_name_arg(const Args& args, int i) {
    return require_text(args.get_text(i), "name", kMaxNameBytes);
}

Token token_arg(const Args& args, int i) { return require_present(args.get_int64(i), "token"); }

Micros wait_for_arg(const Args& args, int i) {
    return require_non_negative_duration(args.get_interval(i), "wait_for", kMaxWaitFor);
}

// Waiting re-reads the lease in a fresh snapshot after every wake-up: a
// transaction snapshot (REPEATABLE READ, SERIALIZABLE) would never see the
// release it waits for.
void require_read_committed() {
    if (IsolationUsesXactSnapshot())
        throw Error(sqlstate::object_not_in_prerequisite_state,
                    "waiting for a lease needs a READ COMMITTED transaction",
                    "With wait_for > 0 the lease is re-read after every wake-up; a REPEATABLE READ "
                    "or SERIALIZABLE snapshot would never see it released.",
                    "Call it in its own READ COMMITTED transaction, or with wait_for => '0'.");
}

bool allowed_unless_queued(std::string_view name) { return !someone_waits_for(name); }

// One try at every name, all or nothing. A single name takes the lighter
// path that leaves no trace when busy (no subtransaction, no row lock).
AcquireAttempt try_names_now(Spi& spi, const std::vector<std::string>& names,
                             std::string_view owner, const Caller& caller, Micros ttl,
                             const std::function<bool(std::string_view)>& new_holding_allowed) {
    if (names.size() > 1)
        return try_acquire_all_now(spi, names, owner, caller, ttl, new_holding_allowed);
    AcquireTry one = try_acquire_without_waiting(spi, names.front(), owner, caller, ttl,
                                                 new_holding_allowed(names.front()));
    AcquireAttempt attempt;
    attempt.retry_at = one.retry_at;
    if (one.token) {
        attempt.granted = true;
        attempt.tokens.push_back(*one.token);
    }
    return attempt;
}

// Waits (wait_for > 0) or tries once; tokens in the order of `names`.
std::optional<std::vector<Token>> acquire_names(Spi& spi, const std::vector<std::string>& names,
                                                std::string_view owner, const Caller& caller,
                                                Micros ttl, Micros wait_for) {
    if (wait_for > 0) {
        require_waiting_available();
        require_read_committed();
    }
    // A newcomer takes a free lease only when nobody queues for it (FIFO);
    // the holder's own retry always succeeds.
    AcquireAttempt now = try_names_now(spi, names, owner, caller, ttl, &allowed_unless_queued);
    if (now.granted) return now.tokens;
    if (wait_for == 0) return std::nullopt;
    return wait_for_leases(spi, owner, caller.role(), names, ttl, wait_for, [&] {
        // At the head of every queue: free leases are ours to take.
        return try_names_now(spi, names, owner, caller, ttl, [](std::string_view) { return true; });
    });
}

// The same for memory holdings (memory_table.hpp, "Waiting"): one try, then
// the queue of waiting.hpp with a memory try whenever at the head.
std::optional<std::vector<Token>> acquire_names_in_memory(const std::vector<std::string>& names,
                                                          std::string_view owner,
                                                          const Caller& caller, Micros ttl,
                                                          Micros wait_for) {
    if (wait_for > 0) {
        require_waiting_available();
        require_read_committed();
    }
    note_owner_session(owner);
    AcquireAttempt now = memory_acquire_all(names, owner, caller, ttl, &allowed_unless_queued);
    if (now.granted) return now.tokens;
    if (wait_for == 0) return std::nullopt;
    MemoryWait marked;
    Spi spi;  // for the deadlock records the wait may write
    return wait_for_leases(spi, owner, caller.role(), names, ttl, wait_for, [&] {
        return memory_acquire_all(names, owner, caller, ttl, [](std::string_view) { return true; });
    });
}

std::vector<std::string> names_arg(const Args& args, int i) {
    std::optional<Datum> array = args.get_datum(i);
    if (!array) throw_null_argument("names");
    Datum* elems = nullptr;
    bool* nulls = nullptr;
    int count = 0;
    pg_call([&] {
        ArrayType* a = DatumGetArrayTypeP(*array);
        deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
    });
    if (count == 0)
        throw Error(sqlstate::invalid_parameter_value, "names must not be empty",
                    "acquire_all needs at least one lease name.");
    std::vector<std::string> names;
    names.reserve(static_cast<std::size_t>(count));
    for (int k = 0; k < count; ++k) {
        if (nulls[k])
            throw Error(sqlstate::null_value_not_allowed, "names must not contain NULL",
                        fmt::format("Element {} of names is NULL.", k + 1));
        ::text* t = reinterpret_cast<::text*>(pg_call([&] { return PG_DETOAST_DATUM_PACKED(elems[k]); }));
        names.emplace_back(require_text(std::string_view(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)),
                                        "names", kMaxNameBytes));
    }
    // The canonical order (bytewise, duplicates removed): every caller takes
    // the rows in the same order, so two acquire_all calls never deadlock.
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    if (names.size() > kMaxAcquireAllNames)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("names has {} distinct lease names", names.size()),
                    fmt::format("acquire_all takes at most {} names at once.", kMaxAcquireAllNames));
    return names;
}

}  // namespace

COORD_FUNCTION(coord_acquire) {
    Args args(fcinfo);
    auto name = lease_name_arg(args, 0);
    auto owner = require_text(args.get_text(1), "owner", kMaxOwnerBytes);
    auto ttl = require_duration(args.get_interval(2), "ttl", kMaxLeaseTtl);
    auto wait_for = wait_for_arg(args, 3);
    bool durable = PG_NARGS() <= 4 || require_present(args.get_boolean(4), "durable");
    CallingRole caller;
    if (!durable) {
        if (wait_for == 0) {
            std::optional<Token> token = memory_acquire(name, owner, caller, ttl);
            return token ? int64_datum(*token) : null_result(fcinfo);
        }
        std::optional<std::vector<Token>> tokens =
            acquire_names_in_memory({std::string(name)}, owner, caller, ttl, wait_for);
        return tokens ? int64_datum(tokens->front()) : null_result(fcinfo);
    }
    note_lease_touched(name);  // this transaction's end wakes the name's first waiter
    Spi spi;
    if (wait_for == 0 && !someone_waits_for(name)) {
        std::optional<Token> token = try_acquire(spi, name, owner, caller, ttl);
        return token ? int64_datum(*token) : null_result(fcinfo);
    }
    std::optional<std::vector<Token>> tokens =
        acquire_names(spi, {std::string(name)}, owner, caller, ttl, wait_for);
    return tokens ? int64_datum(tokens->front()) : null_result(fcinfo);
}

COORD_FUNCTION(coord_acquire_all) {
    Args args(fcinfo);
    std::vector<std::string> names = names_arg(args, 0);
    auto owner = require_text(args.get_text(1), "owner", kMaxOwnerBytes);
    auto ttl = require_duration(args.get_interval(2), "ttl", kMaxLeaseTtl);
    auto wait_for = wait_for_arg(args, 3);
    bool durable = PG_NARGS() <= 4 || require_present(args.get_boolean(4), "durable");
    CallingRole caller;
    begin_result_set(fcinfo);
    std::optional<std::vector<Token>> tokens;
    if (!durable) {
        tokens = acquire_names_in_memory(names, owner, caller, ttl, wait_for);
    } else {
        Spi spi;
        tokens = acquire_names(spi, names, owner, caller, ttl, wait_for);
    }
    if (!tokens) return Datum(0);
    for (std::size_t k = 0; k < names.size(); ++k) {
        Datum values[2] = {text_datum(names[k]), int64_datum((*tokens)[k])};
        bool nulls[2] = {false, false};
        add_result_row(fcinfo, values, nulls);
    }
    return Datum(0);
}

// A memory release takes effect at once: its transaction's end must wake the
// name's first waiter only if someone waits now. One who queues later tries
// after queueing and finds the name free (memory_table.hpp, "Waiting"). That
// spares every release that nobody waits for the transaction-end wake-up.
void note_memory_release(std::string_view name, bool ended) {
    if (ended && someone_waits_for(name)) note_lease_touched(name);
}

COORD_FUNCTION(coord_renew) {
    Args args(fcinfo);
    auto name = lease_name_arg(args, 0);
    auto token = token_arg(args, 1);
    auto ttl = require_duration(args.get_interval(2), "ttl", kMaxLeaseTtl);
    CallingRole caller;
    // A memory holding needs no SPI connection (memory_table.hpp); renewing
    // it frees nothing, so it wakes nobody.
    if (std::optional<Micros> memory = memory_renew(name, token, caller, ttl))
        return timestamptz_datum(*memory);
    note_lease_touched(name);
    Spi spi;
    return timestamptz_datum(renew(spi, name, token, caller, ttl));
}

COORD_FUNCTION(coord_release) {
    Args args(fcinfo);
    auto name = lease_name_arg(args, 0);
    auto token = token_arg(args, 1);
    CallingRole caller;
    if (std::optional<bool> memory = memory_release(name, token, caller)) {
        note_memory_release(name, *memory);
        return BoolGetDatum(*memory);
    }
    note_lease_touched(name);
    Spi spi;
    return BoolGetDatum(release(spi, name, token, caller));
}

COORD_FUNCTION(coord_force_release) {
    Args args(fcinfo);
    auto name = lease_name_arg(args, 0);
    if (std::optional<bool> memory = memory_force_release(name)) {
        note_memory_release(name, true);
        return BoolGetDatum(*memory);
    }
    note_lease_touched(name);
    Spi spi;
    return BoolGetDatum(force_release(spi, name));
}

COORD_FUNCTION(coord_check_fence) {
    Args args(fcinfo);
    auto name = lease_name_arg(args, 0);
    auto token = token_arg(args, 1);
    verify_fence(name, token, CallingRole());
    return Datum(0);
}

// coord.memory_lease_holdings(): the memory holdings of this database, for
// the coord.leases view. The token only for the holding's role or coord_admin.
COORD_FUNCTION(coord_memory_lease_holdings) {
    CallingRole caller;
    begin_result_set(fcinfo);
    std::optional<bool> admin;
    for (const MemoryListing& m : memory_holdings_of_database()) {
        const LeaseRecord& h = m.holding;
        bool shown = h.holder_role == caller.role();
        if (!shown) {
            if (!admin) admin = caller.is_admin();
            shown = *admin;
        }
        Datum values[6] = {text_datum(m.name),           text_datum(*h.owner),
                           ObjectIdGetDatum(h.holder_role), int64_datum(h.token),
                           timestamptz_datum(h.acquired_at), timestamptz_datum(h.expires_at)};
        bool nulls[6] = {false, false, false, !shown, false, false};
        add_result_row(fcinfo, values, nulls);
    }
    return Datum(0);
}
