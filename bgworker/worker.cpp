// The pg_coord background worker ("pg_coord sweeper"), after PostgreSQL's
// src/test/modules/worker_spi and pg_cron's launcher:
//   * signal handlers only set flags and the latch (SIGHUP: reload config;
//     SIGTERM: die(), so the next CHECK_FOR_INTERRUPTS ends the process, also
//     in the middle of a sweep's query);
//   * loop: one sweep, then WaitLatch(WL_LATCH_SET | WL_TIMEOUT |
//     WL_EXIT_ON_PM_DEATH) for coord.sweep_interval, ResetLatch,
//     CHECK_FOR_INTERRUPTS, reload config when asked;
//   * each sweep runs in its own transaction; it waits for another sweep
//     (the sweep lock) at most one interval and then runs alongside it, and
//     its steps skip rows other transactions hold (pg/sweep/sweep.hpp);
//     lock_timeout = max(sweep interval, 1 s) bounds any other lock wait
//     (an administrator's ALTER TABLE); an error is caught, logged, the
//     transaction aborted cleanly, and the loop goes on;
//   * nothing is done while RecoveryInProgress(): on a standby it idles, and
//     after promotion it starts sweeping without a restart;
//   * without the extension in coord.database it idles and checks again at
//     every interval.
// The C++ rules hold here too: every PostgreSQL call that can raise goes
// through pg_call, and no C++ exception leaves this file's functions.
#include "core/common/error.hpp"
#include "pg/common/datum.hpp"
#include "pg/metrics/metrics.hpp"
#include "pg/queue/queue_settings.hpp"
#include "pg/queue/task_store.hpp"
#include "pg/waiting/claim_waiting.hpp"
#include "pg/sweep/sweep.hpp"

#include <algorithm>

extern "C" {
#include "access/xlog.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/snapmgr.h"

PGDLLEXPORT void coord_sweeper_main(Datum arg);
}

namespace coord::pg {

namespace {

enum class Mode { starting, recovery, no_extension, sweeping };

struct SweepOutcome {
    bool ok = true;
    bool extension_installed = false;
    std::string counts_json;
    std::string error;
};

// True when a count in the sweep's JSON is not 0, or a step failed.
bool did_something(const std::string& json) {
    if (json.find("failed_steps") != std::string::npos) return true;
    for (std::size_t at = json.find(": "); at != std::string::npos; at = json.find(": ", at + 2))
        if (at + 2 < json.size() && json[at + 2] >= '1' && json[at + 2] <= '9') return true;
    return false;
}

void log_line(int level, const std::string& message) {
    const char* text = message.c_str();
    pg_call([&] { elog(level, "%s", text); });
}

// One sweep in its own transaction, or (`announce_only`) an announce round:
// only the NOTIFY coord_tasks of the queues whose tasks became due
// (announce_due_queues), asked for by enqueuing commits between sweeps.
// Never throws a PostgreSQL error past its own frame: failures come back in
// the outcome.
SweepOutcome sweep_once(bool announce_only = false) {
    SweepOutcome outcome;
    try {
        pg_call([] {
            SetCurrentStatementStartTimestamp();
            StartTransactionCommand();
            PushActiveSnapshot(GetTransactionSnapshot());
            pgstat_report_activity(STATE_RUNNING, "pg_coord sweep");
        });
        // Never wait long for a lock another session holds: the sweep lock
        // and the rows of other sweeps and clients are not waited for (see
        // run_sweep), and any other lock (a table an administrator locked)
        // fails that sweep or step with lock_timeout; it is logged, and the
        // next sweep tries again.
        std::string lock_timeout =
            std::to_string(std::max<Micros>(sweep_interval(), kMicrosPerSecond) / 1000);
        const char* lock_timeout_text = lock_timeout.c_str();
        pg_call([&] {
            set_config_option("lock_timeout", lock_timeout_text, PGC_SUSET, PGC_S_SESSION,
                              GUC_ACTION_LOCAL, true, 0, false);
        });
        {
            Spi spi;
            static Statement installed(
                "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_coord'", {});
            outcome.extension_installed = spi.run(installed, {}) == 1;
            if (outcome.extension_installed) {
                if (announce_only)
                    outcome.counts_json =
                        fmt::format("{{\"queues_due\": {}}}", announce_due_queues(spi, now_micros()));
                else
                    outcome.counts_json = run_sweep(spi);
            }
        }
        pg_call([] {
            PopActiveSnapshot();
            CommitTransactionCommand();
            pgstat_report_stat(false);
            pgstat_report_activity(STATE_IDLE, nullptr);
        });
        return outcome;
    } catch (const PgException& e) {
        outcome.error = fmt::format("{} ({})", e.what(), unpack_sql_state(e.data()->sqlerrcode));
    } catch (const Error& e) {
        outcome.error = fmt::format("{} ({})", e.what(), e.sqlstate());
    } catch (const std::exception& e) {
        outcome.error = e.what();
    } catch (...) {
        outcome.error = "unknown C++ exception";
    }
    outcome.ok = false;
    if (!announce_only) {
        metrics::count_now(metrics::Counter::sweeps_run);
        metrics::count_now(metrics::Counter::sweeps_failed);
    }
    // The error state was already copied and flushed by pg_call; roll back
    // whatever the sweep did (snapshots, SPI, locks go with the transaction).
    pg_call([] {
        AbortCurrentTransaction();
        pgstat_report_activity(STATE_IDLE, nullptr);
    });
    return outcome;
}

// The loop; returns when coord.database changed (the caller exits with 1 so
// that the postmaster restarts the worker), otherwise ends only through
// proc_exit (SIGTERM, postmaster death).
void sweeper_loop() {
    Mode mode = Mode::starting;
    std::string database = worker_database();
    register_announcer();  // enqueues of this database leave NOTIFY coord_tasks to this loop
    Micros last_sweep = -1;
    for (;;) {
        bool reloaded = pg_call([] {
            CHECK_FOR_INTERRUPTS();
            if (!ConfigReloadPending) return false;
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
            return true;
        });
        if (reloaded) {
            log_line(LOG, fmt::format("pg_coord sweeper: configuration reloaded, sweep interval {} ms",
                                      sweep_interval() / 1000));
            // A backend stays connected to one database: exit, and the
            // postmaster starts the worker again (bgw_restart_time) there.
            if (database != worker_database()) {
                log_line(LOG, fmt::format("pg_coord sweeper: coord.database changed from \"{}\" to "
                                          "\"{}\": restarting",
                                          database, worker_database()));
                return;
            }
        }
        bool in_recovery = pg_call([] { return RecoveryInProgress(); });
        if (in_recovery) {
            if (mode != Mode::recovery)
                log_line(LOG, "pg_coord sweeper: server is in recovery (standby): idle until promotion");
            mode = Mode::recovery;
        } else if (last_sweep >= 0 && now_micros() - last_sweep < sweep_interval()) {
            // Woken before the interval is over: an announce round when an
            // enqueuing commit asked for one (several commits, one round).
            if (take_announce_request()) {
                SweepOutcome outcome = sweep_once(/*announce_only=*/true);
                if (!outcome.ok)
                    log_line(LOG, fmt::format("pg_coord sweeper: announce round failed and was rolled "
                                              "back: {}", outcome.error));
            }
        } else {
            (void)take_announce_request();  // the sweep announces what is due
            last_sweep = now_micros();
            SweepOutcome outcome = sweep_once();
            if (!outcome.ok) {
                log_line(LOG, fmt::format("pg_coord sweeper: sweep failed and was rolled back: {}",
                                          outcome.error));
            } else if (!outcome.extension_installed) {
                if (mode != Mode::no_extension)
                    log_line(LOG, fmt::format("pg_coord sweeper: extension pg_coord is not installed "
                                              "in database \"{}\": idle, checking every sweep",
                                              database));
                mode = Mode::no_extension;
            } else {
                if (mode != Mode::sweeping)
                    log_line(LOG, fmt::format("pg_coord sweeper: sweeping database \"{}\" every {} ms",
                                              database, sweep_interval() / 1000));
                mode = Mode::sweeping;
                // A sweep that changed something is logged with its counts.
                if (did_something(outcome.counts_json))
                    log_line(LOG, fmt::format("pg_coord sweeper: {}", outcome.counts_json));
            }
        }
        Micros left = last_sweep < 0 ? sweep_interval() : last_sweep + sweep_interval() - now_micros();
        long timeout_ms = static_cast<long>(std::max<Micros>(left, 0) / 1000);
        pg_call([&] {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout_ms,
                            PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
        });
    }
}

}  // namespace

void register_sweeper() {
    BackgroundWorker worker;
    memset(&worker, 0, sizeof(worker));
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    // Started on a standby too (once consistent), where it idles: after a
    // promotion it is already there.
    worker.bgw_start_time = BgWorkerStart_ConsistentState;
    worker.bgw_restart_time = 5;  // seconds, after a crash
    snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_coord");
    snprintf(worker.bgw_function_name, BGW_MAXLEN, "coord_sweeper_main");
    snprintf(worker.bgw_name, BGW_MAXLEN, "pg_coord sweeper");
    snprintf(worker.bgw_type, BGW_MAXLEN, "pg_coord sweeper");
    worker.bgw_main_arg = Datum(0);
    worker.bgw_notify_pid = 0;
    RegisterBackgroundWorker(&worker);
}

}  // namespace coord::pg

void coord_sweeper_main(Datum) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(coord::pg::worker_database(), nullptr, 0);

    // Nothing C++ with a destructor is alive in this frame: an exception
    // that escaped the loop is reported as a FATAL after it unwound.
    bool failed = false;
    static char message[1024];
    try {
        coord::pg::sweeper_loop();
    } catch (const std::exception& e) {
        snprintf(message, sizeof(message), "%s", e.what());
        failed = true;
    } catch (...) {
        snprintf(message, sizeof(message), "unknown C++ exception");
        failed = true;
    }
    if (failed) ereport(FATAL, (errmsg("pg_coord sweeper stopped: %s", message)));
    proc_exit(1);  // restarted by the postmaster after bgw_restart_time
}
