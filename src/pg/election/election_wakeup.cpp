#include "pg/election/election_wakeup.hpp"

#include "core/common/error.hpp"
#include "pg/common/datum.hpp"

extern "C" {
#include "common/hashfn.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/wait_event.h"
}

#include <cstdint>

namespace coord::pg {

namespace {

// 64 slots: a bit each in a backend's pending mask.
constexpr int kSlots = 64;

struct ElectionWakeups {
    ConditionVariable slot[kSlots];
};

ElectionWakeups* wakeups = nullptr;
std::uint64_t pending_at_commit = 0;  // slots to wake when this transaction commits

shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;

void election_shmem_request() {
    if (prev_shmem_request) prev_shmem_request();
    RequestAddinShmemSpace(MAXALIGN(sizeof(ElectionWakeups)));
}

void election_shmem_startup() {
    if (prev_shmem_startup) prev_shmem_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    wakeups = static_cast<ElectionWakeups*>(
        ShmemInitStruct("pg_coord election wake-ups", sizeof(ElectionWakeups), &found));
    if (!found)
        for (ConditionVariable& cv : wakeups->slot) ConditionVariableInit(&cv);
    LWLockRelease(AddinShmemInitLock);
}

// Runs in C context at the end of every transaction: nothing here raises.
void election_xact_callback(XactEvent event, void*) {
    if (event == XACT_EVENT_COMMIT && pending_at_commit != 0 && wakeups != nullptr) {
        for (int i = 0; i < kSlots; ++i)
            if (pending_at_commit & (std::uint64_t{1} << i))
                ConditionVariableBroadcast(&wakeups->slot[i]);
    }
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
        event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
        pending_at_commit = 0;
}

int slot_of(std::string_view election) {
    std::uint32_t h = hash_bytes(reinterpret_cast<const unsigned char*>(election.data()),
                                 static_cast<int>(election.size()));
    return static_cast<int>(hash_combine(h, MyDatabaseId) % kSlots);
}

}  // namespace

void define_election() {
    RegisterXactCallback(election_xact_callback, nullptr);
    if (!process_shared_preload_libraries_in_progress) return;
    prev_shmem_request = shmem_request_hook;
    shmem_request_hook = election_shmem_request;
    prev_shmem_startup = shmem_startup_hook;
    shmem_startup_hook = election_shmem_startup;
}

void require_leader_wait_available() {
    if (wakeups != nullptr) return;
    throw Error(sqlstate::object_not_in_prerequisite_state,
                "waiting for a change of leader needs pg_coord in shared_preload_libraries",
                "coord.leader_wait with wait_for > 0 sleeps on a condition variable in shared memory.",
                "Add pg_coord to shared_preload_libraries and restart, LISTEN coord_leader, or call "
                "it with wait_for => '0'.");
}

void wake_leader_waiters_at_commit(std::string_view election) {
    pending_at_commit |= std::uint64_t{1} << slot_of(election);
}

LeaderWaitSleep::LeaderWaitSleep(std::string_view election) {
    require_leader_wait_available();
    ConditionVariable* cv = &wakeups->slot[slot_of(election)];
    condition_ = cv;
    pg_call([&] { ConditionVariablePrepareToSleep(cv); });
}

LeaderWaitSleep::~LeaderWaitSleep() {
    // Also right while an error unwinds: the abort would cancel it too.
    ConditionVariableCancelSleep();
}

void LeaderWaitSleep::sleep_until(Micros until) {
    Micros left = until - now_micros();
    if (left <= 0) return;
    // Rounded up, so that a wake-up for an expiry comes after it.
    long timeout_ms = static_cast<long>((left + 999) / 1000);
    auto* cv = static_cast<ConditionVariable*>(condition_);
    pg_call([&] { ConditionVariableTimedSleep(cv, timeout_ms, PG_WAIT_EXTENSION); });
}

}  // namespace coord::pg
