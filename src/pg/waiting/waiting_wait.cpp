// The wait loop of a lease request (waiting.hpp, wait_for_leases): queued,
// it tries whenever it is at the head of every name's queue, takes a
// hand-off once the releasing transaction has ended, checks for a deadlock
// through itself every coord.deadlock_timeout and sleeps on its latch in
// between.
#include "pg/common/lock_wait.hpp"
#include "pg/waiting/waiting.hpp"
#include "pg/waiting/waiting_internal.hpp"

extern "C" {
#include "storage/latch.h"
#include "utils/wait_event.h"
}

#include <algorithm>

namespace coord::pg {

namespace {

// How long a wait that ran out waits on for a release that is handing it the
// lease to commit (part of the margin wait_for may be overrun by).
constexpr Micros kHandoffCommitMargin = 100 * 1000;

}  // namespace

using namespace waiting;

std::optional<std::vector<Token>> wait_for_leases(Spi& spi, std::string_view owner, RoleId role,
                                                  const std::vector<std::string>& names, Micros ttl,
                                                  Micros wait_for,
                                                  const std::function<AcquireAttempt()>& attempt) {
    require_waiting_available();
    note_owner_session(owner);
    if (records_may_be_written_here() && pending_records_exist()) persist_deadlocks(spi);
    const Micros start = now_micros();
    const Micros deadline = start + wait_for;
    const Micros check_every = static_cast<Micros>(deadlock_timeout_ms) * 1000;
    Micros next_check = start + check_every;
    Registration registration(owner, role, names, start, deadline, ttl);
    auto granted = [&](std::vector<Token> tokens, PromiseFate fate = PromiseFate::orphan) {
        std::string name, detail;
        if (fate == PromiseFate::taken) {
            // Chosen as a victim meanwhile: the error aborts the grant too.
            if (leave_queue(&name, &detail, nullptr, fate)) throw_victim(name, detail);
        } else {
            // Granted by this request's own try. A release may have handed it
            // the lease just before (committed after the promise was looked
            // at): the try then found the row already held as this owner and
            // kept its token -- that hand-off is this grant, not an orphan to
            // return (which would free a lease the caller holds). Any other
            // promise, or one a victim cannot take, is returned.
            std::optional<Promise> late;
            bool victim = leave_queue(&name, &detail, &late);
            if (late && (victim || std::find(tokens.begin(), tokens.end(), late->token) == tokens.end()))
                abandon_promise(*late, owner, names.front());
            if (victim) throw_victim(name, detail);
        }
        if (records_may_be_written_here() && pending_records_exist()) persist_deadlocks(spi);
        return tokens;
    };
    for (;;) {
        if (registration.chosen_as_victim()) {
            std::string name, detail;
            leave_queue(&name, &detail);
            throw_victim(name, detail);
        }
        std::optional<Micros> retry_at;
        // A release handed this request the lease: once the releasing
        // transaction has ended (its end wakes us), the row says whether it
        // committed. Nothing to write: the holding is already durable.
        std::optional<Promise> promise = registration.promise();
        bool promise_pending = promise && transaction_in_progress(promise->by);
        if (promise && !promise_pending) {
            if (promise_kept(*promise, owner, names.front()))
                return granted({promise->token}, PromiseFate::taken);
            registration.forget(*promise);
        }
        if (!promise_pending && registration.at_head()) {
            AcquireAttempt result = attempt();
            if (result.granted) return granted(std::move(result.tokens));
            retry_at = result.retry_at;
        }
        Micros now = now_micros();
        if (now >= deadline) {
            std::optional<Promise> last;
            leave_queue(nullptr, nullptr, &last);
            if (records_may_be_written_here() && pending_records_exist()) persist_deadlocks(spi);
            // Handed the lease just as the wait ran out: it is ours if that
            // release commits. wait_for stays a bound: the release's commit
            // is waited for at most kHandoffCommitMargin (README, "wait_for
            // is a bound"); a release still open after that may hand the
            // lease over later, as after a cancel at the moment of a hand-off.
            if (last) {
                if (with_lock_wait_limit(kHandoffCommitMargin, [&] { wait_for_transaction_end(last->by); }) &&
                    promise_kept(*last, owner, names.front()))
                    return std::vector<Token>{last->token};
                // Still committing, or committed just after the look: nobody
                // takes it; its transaction (or the next sweep) returns it.
                abandon_promise(*last, owner, names.front());
            }
            return std::nullopt;
        }
        if (now >= next_check) {
            if (check_deadlock_through_me() && records_may_be_written_here()) persist_deadlocks(spi);
            next_check = now_micros() + check_every;
            continue;
        }
        Micros wake_at = std::min(deadline, next_check);
        if (retry_at) wake_at = std::min(wake_at, std::max(*retry_at, now));
        long timeout_ms = static_cast<long>((wake_at - now + 999) / 1000);
        pg_call([&] {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout_ms,
                            PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
            CHECK_FOR_INTERRUPTS();
        });
    }
}

}  // namespace coord::pg
