// Waiting for tasks: claimers asleep in coord.claim(wait_for) and their
// wake-ups (the same plumbing as lease waiting, waiting.hpp: shared memory
// reserved at server start, one latch per backend, wake-ups sent after the
// transaction that made the change has ended).
//
// Shared memory: one ClaimWaiter per backend (indexed by pgprocno): the
// database and a bitmap of queue-name hash buckets it waits for. A
// transaction that made tasks of a queue due (enqueue, resume, a requeue or
// retry by the sweep) sets the latch of every waiter of that bucket when it
// commits; a bucket shared by two queues only costs a spurious wake-up (the
// woken claim finds nothing and sleeps again). Nothing is polled.
#pragma once

#include "core/common/time.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace coord::pg {

// Called by define_waiting() while shared_preload_libraries is processed
// (shared memory hooks), and in every backend (the transaction callback).
void define_claim_waiting();

// When the current transaction commits, wake the claimers waiting for
// `queue` in this database (at most once per queue per transaction).
void wake_claimers_at_commit(std::string_view queue);

// When the current transaction ends either way, wake them: a claim that
// locked rows it did not claim, or claimed tasks a rollback puts back.
void wake_claimers_at_end(std::string_view queue);

// This backend waits for tasks of `queues` while the object lives. Register
// before the first try: a commit after that try's snapshot sets the latch.
class ClaimWaitRegistration {
public:
    explicit ClaimWaitRegistration(const std::vector<std::string>& queues);
    ~ClaimWaitRegistration();
    ClaimWaitRegistration(const ClaimWaitRegistration&) = delete;
    ClaimWaitRegistration& operator=(const ClaimWaitRegistration&) = delete;

    // Sleeps until woken or `until` (server clock); query cancel,
    // statement_timeout and termination raise as usual (the destructor
    // unregisters on the way out).
    void sleep_until(Micros until) const;
};

// How many backends wait in coord.claim(wait_for) now (all databases).
int claim_waiters();

// Tasks that become due later (a run_at ahead, a retry's backoff, a requeue,
// a snooze) are announced by the sweep when their time has come (task
// sweep step "due"). So that a sweep looks for them only when some may have
// become due, shared memory keeps a hint: no unannounced pending task has a
// run_at earlier than it (per database, not per queue; at start it is
// "long ago", so the first sweep looks).
//
// The current transaction wrote a pending task due at `run_at`: lowers the
// hint when it commits (after the commit, so that a sweep that took the
// hint before sees the task in its snapshot).
void note_task_due_at(Micros run_at);
// The sweep: takes the hint (leaving "nothing scheduled") before it reads
// the tasks, then gives back the earliest run_at still ahead that it saw
// (give_due_hint, at once). If its transaction aborts, the hint it took is
// given back. Without shared memory (or a free slot): 0, every due task
// counts as newly due, and nothing is kept.
Micros take_due_hint();
void give_due_hint(Micros earliest);

// NOTIFY coord_tasks for enqueues is sent by the background worker, not by
// the enqueuing transaction (whose commit would otherwise wait for the
// async queue's global lock behind every other notifying commit). When the
// worker serves this database (it registered with register_announcer):
// makes the task due at `run_at` known as note_task_due_at does, sets the
// worker's latch when the transaction commits, and returns true; the
// worker's next announce round (announce_due_queues) sends one NOTIFY per
// queue with due tasks. Without shared memory or the worker in this
// database: false, and the caller notifies in its transaction.
bool announce_by_worker_at_commit(Micros run_at);
// The worker: it announces for its database (until it exits).
void register_announcer();
// The worker: whether a commit asked for an announce round since the last
// call (and clears the request).
bool take_announce_request();

}  // namespace coord::pg
