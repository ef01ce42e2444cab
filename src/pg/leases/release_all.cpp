// coord.release_all(owner) (issue 12): what a deadlock victim (40P01) does
// in one call -- release every lease `owner` holds under the calling role,
// durable and memory holdings alike. Each one goes through the ordinary
// release (hand-off to a waiter, wake-ups at transaction end), in name order
// so that two release_all calls lock the rows in the same order.
#include "core/common/validate.hpp"
#include "core/leases/lease.hpp"
#include "pg/common/calling_role.hpp"
#include "pg/common/datum.hpp"
#include "pg/leases/leases.hpp"
#include "pg/leases/memory_table.hpp"
#include "pg/waiting/waiting.hpp"

#include <algorithm>
#include <string>
#include <vector>

using namespace coord;
using namespace coord::pg;

COORD_FUNCTION(coord_release_all) {
    Args args(fcinfo);
    std::string owner(require_text(args.get_text(0), "owner", kMaxOwnerBytes));
    CallingRole caller;
    const Micros now = now_micros();
    struct Held {
        std::string name;
        Token token;
        bool memory;
    };
    std::vector<Held> held;
    for (const MemoryListing& m : memory_holdings_of_database())
        if (released_by_release_all(m.holding, owner, caller.role(), now))
            held.push_back(Held{m.name, m.holding.token, true});
    Spi spi;
    static Statement durable(
        "SELECT name, token, acquired_at, expires_at FROM coord.lease_state "
        "WHERE owner = $1 AND holder_role = $2 AND expires_at > $3 ORDER BY name",
        {TEXTOID, REGROLEOID, TIMESTAMPTZOID});
    std::uint64_t n = spi.run(durable, {text_param(owner), role_param(caller.role()), timestamptz_param(now)});
    for (std::uint64_t i = 0; i < n; ++i) {
        Row row = spi.row(i);
        LeaseRecord h{owner, *row.get_int64(2), row.get_timestamptz(3).value_or(0),
                      row.get_timestamptz(4).value_or(0), caller.role()};
        if (released_by_release_all(h, owner, caller.role(), now))
            held.push_back(Held{*row.get_text(1), h.token, false});
    }
    std::sort(held.begin(), held.end(), [](const Held& a, const Held& b) { return a.name < b.name; });
    std::int32_t released = 0;
    for (const Held& h : held) {
        bool done = false;
        if (h.memory) {
            std::optional<bool> memory = memory_release(h.name, h.token, caller);
            done = memory.value_or(false);
            if (done && someone_waits_for(h.name)) note_lease_touched(h.name);
        } else {
            note_lease_touched(h.name);
            // A holding that changed since it was read (expired and taken,
            // released meanwhile) is not this owner's any more: release()
            // leaves it alone (false).
            done = release(spi, h.name, h.token, caller);
        }
        if (done) ++released;
    }
    return Int32GetDatum(released);
}
