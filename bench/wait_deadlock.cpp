// Deadlock figure: the time from the moment a two-party cycle closes to the
// victim's 40P01, over constructed cycles whose holdings are uncommitted
// (explicit transactions: A: BEGIN; acquire X; acquire Y (waits) -- B the
// mirror image; B's wait closes the cycle and is the victim), for
//   * coord.acquire(wait_for) with coord.deadlock_timeout = D, and
//   * the same cycle on PostgreSQL's own locks (pg_advisory_xact_lock) with
//     deadlock_timeout = D: what a user would write instead,
// interleaved, in the same run. Target: coord p50 and p99 <= D + 50 ms.
// Usage: wait_deadlock [cycles, default 200] [D in ms, default 100]
#include "client/pg_client.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using coord::client::Connection;
using coord::client::QueryError;
using Clock = std::chrono::steady_clock;

namespace {

double pick(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

// One constructed cycle; returns ms from B's wait starting (the cycle
// closes) to the first 40P01 (coord cancels the youngest wait, B's;
// PostgreSQL the backend whose deadlock_timeout ran out first, A's), or a
// negative value when nobody got 40P01.
double one_cycle(Connection& a, Connection& b, Connection& watch, bool coord_locks, int i) {
    const std::string x = "dl-x-" + std::to_string(i), y = "dl-y-" + std::to_string(i);
    const std::string kx = std::to_string(2 * i + 1), ky = std::to_string(2 * i + 2);
    a.exec("BEGIN");
    b.exec("BEGIN");
    if (coord_locks) {
        a.exec("SELECT coord.acquire($1, 'A')", {x});
        b.exec("SELECT coord.acquire($1, 'B')", {y});
    } else {
        a.exec("SELECT pg_advisory_xact_lock($1::int)", {kx});
        b.exec("SELECT pg_advisory_xact_lock($1::int)", {ky});
    }
    std::string a_pid = *a.exec("SELECT pg_backend_pid()::text").scalar();
    Clock::time_point closed{}, a_error{}, b_error{};
    bool a_victim = false, b_victim = false;
    std::thread a_waits([&] {
        try {
            if (coord_locks)
                a.exec("SELECT coord.acquire($1, 'A', wait_for => '30 s')", {y});
            else
                a.exec("SELECT pg_advisory_xact_lock($1::int)", {ky});
        } catch (const QueryError& e) {
            if (e.sqlstate() == "40P01") {
                a_error = Clock::now();
                a_victim = true;
            }
        }
    });
    // A is queued (a condition, not a delay).
    const std::string queued_sql = coord_locks
        ? "SELECT count(*) FROM coord.waiters WHERE pid = $1::int"
        : "SELECT count(*) FROM pg_locks WHERE pid = $1::int AND NOT granted";
    while (watch.exec(queued_sql, {a_pid}).scalar() == std::optional<std::string>("0"))
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    closed = Clock::now();
    try {
        if (coord_locks)
            b.exec("SELECT coord.acquire($1, 'B', wait_for => '30 s')", {x});
        else
            b.exec("SELECT pg_advisory_xact_lock($1::int)", {kx});
    } catch (const QueryError& e) {
        if (e.sqlstate() == "40P01") {
            b_error = Clock::now();
            b_victim = true;
        }
    }
    b.exec("ROLLBACK");
    a_waits.join();
    a.exec("ROLLBACK");
    if (!a_victim && !b_victim) return -1;
    Clock::time_point first = a_victim && (!b_victim || a_error < b_error) ? a_error : b_error;
    return std::chrono::duration<double, std::milli>(first - closed).count();
}

}  // namespace

int main(int argc, char** argv) {
    int cycles = argc > 1 ? std::atoi(argv[1]) : 200;
    int timeout_ms = argc > 2 ? std::atoi(argv[2]) : 100;
    try {
        Connection watch, a, b;
        watch.exec("CREATE EXTENSION IF NOT EXISTS pg_coord");
        for (Connection* c : {&a, &b}) {
            c->exec("SELECT set_config('coord.deadlock_timeout', $1, false)", {std::to_string(timeout_ms) + "ms"});
            c->exec("SELECT set_config('deadlock_timeout', $1, false)", {std::to_string(timeout_ms) + "ms"});
        }
        std::vector<double> coord_ms, pg_ms;
        int missed = 0;
        for (int i = 0; i < cycles; ++i) {
            for (bool coord_locks : {i % 2 == 0, i % 2 != 0}) {  // interleaved, alternating first
                double ms = one_cycle(a, b, watch, coord_locks, i);
                if (ms < 0) ++missed;
                else (coord_locks ? coord_ms : pg_ms).push_back(ms);
            }
        }
        if (coord_ms.empty() || pg_ms.empty()) {
            std::printf("no deadlock detected (missed %d)\n", missed);
            return 1;
        }
        double target = timeout_ms + 50.0;
        double c50 = pick(coord_ms, 0.5), c99 = pick(coord_ms, 0.99);
        double p50 = pick(pg_ms, 0.5), p99 = pick(pg_ms, 0.99);
        std::printf("cycle close -> victim's 40P01, %d cycles each, uncommitted holdings, deadlock_timeout %d ms\n",
                    cycles, timeout_ms);
        std::printf("%-34s p50 %8.1f ms   p99 %8.1f ms\n", "coord.acquire(wait_for)", c50, c99);
        std::printf("%-34s p50 %8.1f ms   p99 %8.1f ms\n", "pg_advisory_xact_lock (baseline)", p50, p99);
        std::printf("p50 ratio coord/baseline = %.2f, p99 ratio = %.2f; cycles not detected: %d\n", c50 / p50,
                    c99 / p99, missed);
        bool met = c50 <= target && c99 <= target && missed == 0;
        std::printf("target p50 and p99 <= deadlock_timeout + 50 ms = %.0f ms: %s\n", target, met ? "met" : "NOT met");
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wait_deadlock: %s\n", e.what());
        return 1;
    }
}
