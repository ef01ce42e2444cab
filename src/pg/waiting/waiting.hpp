// Waiting for leases: who is asleep waiting (shared memory), FIFO order per
// lease name, wake-ups after the releasing transaction ends, and deadlock
// detection among sessions. Lease state itself stays in coord.lease_state.
//
// Shared memory (needs shared_preload_libraries = 'pg_coord'): per-name FIFO
// queues in a shared hash keyed by (database, name), partitioned with one
// LWLock per partition (waits on different names do not serialise), one
// BackendWait per backend, the deadlock ring and the orphaned hand-offs --
// waiting_internal.hpp has the layout and the lock order. Files: shmem
// (layout, GUCs, transaction callbacks), queue (FIFO queues), handoff
// (promises), deadlock (wait state, victims), history (deadlock ring),
// sessions (owners a session acted as), wait (the wait loop), acquire (one
// try), sql (SRFs), sweep (the sweep step).
#pragma once

#include "core/leases/lease.hpp"
#include "core/common/time.hpp"
#include "pg/common/spi.hpp"

#include <functional>
#include <string>
#include <vector>

namespace coord::pg {

// _PG_init: GUCs (every backend) and, while shared_preload_libraries is
// processed, the shared-memory hooks.
void define_waiting();

// True when the waiting machinery is in shared memory.
bool waiting_available();

// Raises 55000 unless waiting_available().
void require_waiting_available();

// True when some request of this database waits for `name`: a newcomer must
// not take it then (FIFO), also with wait_for = 0.
bool someone_waits_for(std::string_view name);

// Called by every lease function that may change `name` (acquire, renew,
// release, force_release, and a waiting try that locks its row): when the
// transaction ends (commit or abort), the first waiter of `name` is woken.
void note_lease_touched(std::string_view name);

// Called by the lease functions with the owner a call acts as (acquire,
// renew, release, a wait): this session counts as a session of that owner in
// the wait-for graph (a session of an owner that is not waiting can still
// release its holdings, so no cycle through that owner is reported). Kept in
// shared memory until the backend exits (8 owners; a session that acted as
// more counts as a session of every owner).
void note_owner_session(std::string_view owner);

// One try, never blocking on a row lock, at taking every name of `names`
// (sorted, distinct) for `owner`: all or nothing (waiting_acquire.cpp). It
// runs in a subtransaction, so the row locks of a failed try are released at
// once (a waiter must not hold them while it sleeps). A name is busy when
// another owner holds it, when another transaction has its row locked, or
// when new_holding_allowed(name) is false and `owner` does not already hold
// it (its retry then extends the holding: same token, later expiry).
struct AcquireAttempt {
    bool granted = false;
    std::vector<Token> tokens;       // one per name, when granted
    std::optional<Micros> retry_at;  // earliest expiry among busy holdings
};
AcquireAttempt try_acquire_all_now(Spi& spi, const std::vector<std::string>& names,
                                   std::string_view owner, const Caller& caller, Micros ttl,
                                   const std::function<bool(std::string_view)>& new_holding_allowed,
                                   OwnHolding own = OwnHolding::extend);

// Queues the request (owner and its role, names, arrival order, the ttl it
// asks for),
// calls `attempt` whenever this request is at the head of every name's
// queue (at once, then after each wake-up), sleeps on its latch in between;
// checks for a deadlock through `owner` every coord.deadlock_timeout.
// Returns the tokens `attempt` got, or those of a hand-off (below); nullopt
// when `wait_for` ran out. Raises 40P01 when chosen as a deadlock victim;
// query cancel / statement_timeout / termination raise as usual, and in
// every case the request leaves the queue first.
std::optional<std::vector<Token>> wait_for_leases(Spi& spi, std::string_view owner, RoleId role,
                                                  const std::vector<std::string>& names, Micros ttl,
                                                  Micros wait_for,
                                                  const std::function<AcquireAttempt()>& attempt);

// Hand-off: a release of a name whose first waiter is a single-name request
// writes the lease over to that waiter in the releasing transaction (README,
// "Woken, not polled"). When that transaction has ended, the woken waiter
// finds itself the holder and returns without writing anything.
struct HandoffCandidate {
    int procno;
    std::uint64_t request;
    std::string owner;
    RoleId role;  // the waiter's: the hand-off's holding belongs to it
    Micros ttl;
};
std::optional<HandoffCandidate> first_waiter_of(std::string_view name);

// Promises `candidate` the holding `token` that the current transaction is
// about to write; false (nothing promised) when it stopped waiting meanwhile.
bool promise_handoff(const HandoffCandidate& candidate, Token token);

// A hand-off whose request left before taking it (cancelled, timed out,
// exited) is returned -- freed, or handed to the next waiter -- by the
// promising transaction just before it commits; one that request left later
// (between that check and the commit) by this call, which the sweep makes:
// for each such hand-off whose transaction has ended, the holding is
// released if it is still the one written for the request. Returns how many
// holdings it released.
int return_orphaned_handoffs(Spi& spi);

// Writes deadlocks detected in this database (held in shared memory) into
// coord.deadlock_history, in the current transaction; they count as written
// only when it commits. Returns how many rows were inserted.
int persist_deadlocks(Spi& spi);

// Checks the whole wait-for graph of this database; cancels one victim per
// cycle. Returns the number of cycles broken.
int detect_all_deadlocks(Spi& spi);

// Per lease name of this database: how many distinct owners wait for it and
// since when the oldest waits (for the lease_queue_deep alert).
struct QueueDepth {
    std::string name;
    int owners = 0;
    Micros oldest_since = 0;
};
std::vector<QueueDepth> queue_depths();

// coord.queue_depth_alert: alert when more owners than this wait for a name.
int queue_depth_alert_threshold();

}  // namespace coord::pg
