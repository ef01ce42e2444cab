// One billing instance, as a cron job on one of several hosts would run it:
//
//   loop: acquire the lease "billing:<cycle>" (short TTL)
//         for every account: renew the lease when a third of the TTL has passed,
//                            post the charge (fenced by the token),
//                            if the entry is pending: charge it at the payment
//                            provider with the entry's idempotency key, settle it
//         release the lease
//   until the cycle has an entry for every account and none is pending.
//
// Used by tests/scenarios/billing/run and by tools/demo. Human-readable lines
// start with "[name]"; with --trace every ledger write is also logged as
//   ATTEMPT <seq> <post|settle> <account> <token>
//   RESULT <seq> <post|settle> <account> <inserted|existing|settled|unchanged|PC001|...>
// so that a test can tell which writes happened after a given moment.
//
//   billing_instance --setup                  creates the simulated payment provider
//   billing_instance --name billing-a [--user billing] [--cycle 2026-11-28]
//                    [--accounts 1000] [--ttl-ms 3000] [--delay-ms 0] [--once] [--trace]
//                    [--keep-writing-after-loss] [--crash-after N] [--pause-after N]
#include "client/pg_client.hpp"

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

using coord::client::Connection;
using coord::client::QueryError;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    std::string name = "billing";
    std::string user;
    std::string cycle = "2026-11-28";
    int accounts = 1000;
    int ttl_ms = 3000;
    int delay_ms = 0;
    bool once = false;
    bool trace = false;
    bool keep_writing_after_loss = false;
    int crash_after = -1;
    int pause_after = -1;
    bool setup = false;
};

Options options;
long seq = 0;

void say(const std::string& line) {
    std::fputs(fmt::format("[{}] {}\n", options.name, line).c_str(), stdout);
    std::fflush(stdout);
}

void trace(const std::string& line) {
    if (!options.trace) return;
    std::fputs((line + "\n").c_str(), stdout);
    std::fflush(stdout);
}

// The simulated payment provider: it deduplicates by idempotency key, like
// Stripe's Idempotency-Key header, and counts every call.
const char* kProviderSql = R"SQL(
CREATE SCHEMA IF NOT EXISTS provider;
CREATE TABLE IF NOT EXISTS provider.charges (
    idempotency_key text PRIMARY KEY,
    account text NOT NULL,
    amount numeric NOT NULL,
    currency text NOT NULL,
    charge_ref text NOT NULL,
    first_caller text NOT NULL,
    calls integer NOT NULL DEFAULT 1
);
CREATE OR REPLACE FUNCTION provider.charge(key text, account text, amount numeric, currency text,
                                           caller text) RETURNS text
LANGUAGE sql AS $$
    INSERT INTO provider.charges AS c (idempotency_key, account, amount, currency, charge_ref,
                                       first_caller)
    VALUES (key, account, amount, currency, 'ch_' || left(md5(key), 12), caller)
    ON CONFLICT (idempotency_key) DO UPDATE SET calls = c.calls + 1
    RETURNING charge_ref
$$;
GRANT USAGE ON SCHEMA provider TO coord_user;
GRANT SELECT, INSERT, UPDATE ON provider.charges TO coord_user;
)SQL";

// "ERROR:  lease ... is not held by token 2\nDETAIL: ..." -> "lease ... token 2".
std::string first_line(std::string message) {
    if (message.rfind("ERROR:  ", 0) == 0) message.erase(0, 8);
    return message.substr(0, message.find('\n'));
}

std::string account_name(int i) { return fmt::format("acct-{:04}", i); }
std::string amount_of(int i) { return fmt::format("{}.{:02}", 5 + i % 45, (i * 7) % 100); }

bool cycle_complete(Connection& db) {
    auto r = db.exec("SELECT entries, pending FROM coord.cycles WHERE cycle_id = $1",
                     {options.cycle});
    return r.rows() == 1 && std::stol(*r.value(0, 0)) >= options.accounts &&
           std::stol(*r.value(0, 1)) == 0;
}

struct RunStats {
    int posted = 0;    // new entries
    int skipped = 0;   // already posted (inserted = false)
    int retried = 0;   // pending entries from an earlier run, charged again with their key
    int settled = 0;
    int rejected = 0;  // PC001
    bool lost = false;
};

std::string summary(const RunStats& s, int done) {
    return fmt::format("{}/{} accounts: {} new, {} already posted (inserted=false), {} pending "
                       "retried with their key, {} settled",
                       done, options.accounts, s.posted, s.skipped, s.retried, s.settled);
}

// Runs one fenced ledger write; false when the lease is lost (PC001).
template <typename F>
bool fenced_write(const char* op, const std::string& account, long token, RunStats& stats, F write) {
    long my_seq = ++seq;
    trace(fmt::format("ATTEMPT {} {} {} {}", my_seq, op, account, token));
    try {
        std::string outcome = write();
        trace(fmt::format("RESULT {} {} {} {}", my_seq, op, account, outcome));
        return true;
    } catch (const QueryError& e) {
        trace(fmt::format("RESULT {} {} {} {}", my_seq, op, account, e.sqlstate()));
        if (e.sqlstate() != "PC001") throw;
        ++stats.rejected;
        if (!stats.lost || stats.rejected <= 3 || !options.keep_writing_after_loss)
            say(fmt::format("REJECTED {} {} with PC001: {}", op, account, first_line(e.what())));
        stats.lost = true;
        return false;
    }
}

RunStats run_cycle(Connection& db, const std::string& lease, long token) {
    RunStats stats;
    const std::string token_text = std::to_string(token);
    auto last_renew = Clock::now();
    const auto renew_every = std::chrono::milliseconds(options.ttl_ms / 3);
    const std::string ttl = fmt::format("{} milliseconds", options.ttl_ms);
    for (int i = 1; i <= options.accounts; ++i) {
        if (!stats.lost && Clock::now() - last_renew >= renew_every) {
            try {
                db.exec("SELECT coord.renew($1, $2, $3)", {lease, token_text, ttl});
                last_renew = Clock::now();
            } catch (const QueryError& e) {
                if (e.sqlstate() != "PC001") throw;
                say(fmt::format("renew of token {} rejected with PC001: the lease is gone", token));
                stats.lost = true;
                if (!options.keep_writing_after_loss) return stats;
            }
        }
        const std::string account = account_name(i);
        std::string entry_id, status;
        bool inserted = false;
        bool ok = fenced_write("post", account, token, stats, [&] {
            auto r = db.exec(
                "SELECT entry_id, inserted, status FROM coord.ledger_post($1, $2, $3::numeric, "
                "'USD', fence_name => $4, fence_token => $5)",
                {options.cycle, account, amount_of(i), lease, token_text});
            entry_id = *r.value(0, 0);
            inserted = *r.value(0, 1) == "t";
            status = *r.value(0, 2);
            return std::string(inserted ? "inserted" : "existing");
        });
        if (!ok) {
            if (options.keep_writing_after_loss) continue;
            return stats;
        }
        ++(inserted ? stats.posted : stats.skipped);
        if (i == options.crash_after) {
            say(fmt::format("*** crashing (SIGKILL) right after posting {}, before charging it ***",
                            account));
            std::raise(SIGKILL);
        }
        if (status == "pending") {
            if (!inserted) ++stats.retried;
            // The charge itself: the provider deduplicates by the entry's key.
            auto ref = db.exec(
                "SELECT provider.charge(idempotency_key, account, amount, currency, $2) "
                "FROM coord.ledger WHERE entry_id = $1",
                {entry_id, options.name}).scalar();
            ok = fenced_write("settle", account, token, stats, [&] {
                auto r = db.exec(
                    "SELECT coord.ledger_settle($1, 'settled', $2, fence_name => $3, "
                    "fence_token => $4)",
                    {entry_id, *ref, lease, token_text});
                bool moved = r.scalar() == std::optional<std::string>("t");
                if (moved) ++stats.settled;
                return std::string(moved ? "settled" : "unchanged");
            });
            if (!ok && !options.keep_writing_after_loss) return stats;
        }
        if (i % 250 == 0 && i < options.accounts && !stats.lost) say(summary(stats, i));
        if (i == options.pause_after) {
            say(fmt::format("*** pausing (SIGSTOP) after {} while holding token {}, as in a long "
                            "GC pause or a frozen VM ***",
                            account, token));
            std::raise(SIGSTOP);
            say("*** woke up (SIGCONT); carrying on with the next account ***");
        }
        if (options.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(options.delay_ms));
    }
    return stats;
}

int run() {
    std::string conninfo = fmt::format("application_name={}", options.name);
    if (!options.user.empty()) conninfo += " user=" + options.user;
    Connection db(conninfo);
    if (options.setup) {
        // Several statements: the simple query protocol.
        PGresult* r = PQexec(db.raw(), kProviderSql);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) say(fmt::format("setup failed: {}", PQresultErrorMessage(r)));
        PQclear(r);
        return ok ? 0 : 1;
    }
    const std::string lease = "billing:" + options.cycle;
    const std::string ttl = fmt::format("{} milliseconds", options.ttl_ms);
    std::string last_holder;
    for (;;) {
        if (cycle_complete(db)) {
            say(fmt::format("cycle {} is complete: nothing to do", options.cycle));
            return 0;
        }
        auto token = db.exec("SELECT coord.acquire($1, $2, $3)", {lease, options.name, ttl}).scalar();
        if (!token) {
            auto holder = db.exec("SELECT owner || ' (token ' || token || ')' FROM coord.leases "
                                  "WHERE name = $1", {lease}).scalar();
            std::string who = holder.value_or("another instance");
            if (options.once) {
                say(fmt::format("{} is held by {}: skipping this run", lease, who));
                return 0;
            }
            if (who != last_holder) say(fmt::format("{} is held by {}: waiting", lease, who));
            last_holder = who;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        last_holder.clear();
        long t = std::stol(*token);
        say(fmt::format("acquired {} with fencing token {}", lease, t));
        RunStats stats = run_cycle(db, lease, t);
        if (stats.lost) {
            say(fmt::format("lost the lease (token {}): {} write(s) rejected with PC001; stopping "
                            "this run",
                            t, stats.rejected));
            if (options.once) return 3;
            continue;
        }
        bool released = db.exec("SELECT coord.release($1, $2)", {lease, *token}).scalar() ==
                        std::optional<std::string>("t");
        say(summary(stats, options.accounts));
        say(fmt::format("run finished; lease {}", released ? "released" : "was no longer ours"));
        if (options.once) return 0;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--name") options.name = next();
        else if (a == "--user") options.user = next();
        else if (a == "--cycle") options.cycle = next();
        else if (a == "--accounts") options.accounts = std::stoi(next());
        else if (a == "--ttl-ms") options.ttl_ms = std::stoi(next());
        else if (a == "--delay-ms") options.delay_ms = std::stoi(next());
        else if (a == "--crash-after") options.crash_after = std::stoi(next());
        else if (a == "--pause-after") options.pause_after = std::stoi(next());
        else if (a == "--once") options.once = true;
        else if (a == "--trace") options.trace = true;
        else if (a == "--keep-writing-after-loss") options.keep_writing_after_loss = true;
        else if (a == "--setup") options.setup = true;
        else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return 2;
        }
    }
    try {
        return run();
    } catch (const std::exception& e) {
        say(fmt::format("error: {}", e.what()));
        return 1;
    }
}
