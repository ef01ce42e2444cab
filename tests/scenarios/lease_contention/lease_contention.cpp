// 100 workers (one connection each) run jobs on 50 resources for a bounded
// time. A job needs 1 or 2 random resources: a third of the jobs take them
// one by one in random order with coord.acquire(wait_for), each in its own
// transaction (so A/B deadlocks do happen), a third one by one inside ONE
// explicit transaction (BEGIN; acquire; acquire; work; release; COMMIT: the
// holdings are uncommitted while the second acquire waits, so A/B
// deadlocks among uncommitted holdings happen), a third with
// coord.acquire_all. Checks:
//  * never two holders of one resource at once: a grant log (resource, token,
//    from, to) per worker, merged and checked for overlaps and token order,
//    and a server-side in_use counter that must read 1 for every holder;
//  * every deadlock is broken: each 40P01 a client sees is in coord.deadlocks,
//    no acquire ends by running out its wait (no undetected cycle), and at
//    the end nobody waits and no cycle is left;
//  * no waiter starves beyond its wait_for (every acquire returns in time);
//  * no lease is left held once every worker has gone (coord.leases empty);
//  * none reported falsely: alongside, pairs of "cyclers" construct A/B
//    deadlocks of uncommitted holdings on names of their own (both BEGIN and
//    acquire their first name, meet at a barrier, then each waits for the
//    other's): every cycle the test constructs is reported exactly once
//    (one 40P01 per cycle, the other member gets its lease), and the
//    cyclers' rows in coord.deadlocks equal the cycles constructed.
// Usage: lease_contention [workers] [resources] [seconds] [wait_for_seconds]
#include "client/pg_client.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

using coord::client::Connection;
using coord::client::QueryError;
using Clock = std::chrono::steady_clock;

namespace {

struct Grant {
    int resource;
    long long token;
    int worker;
    Clock::time_point from, to;
};

struct Stats {
    std::atomic<long> jobs{0}, grants{0}, deadlocks{0}, deadlocks_in_transaction{0}, timeouts{0},
        violations{0}, errors{0};
    // Constructed cycles, and how the cyclers saw them end.
    std::atomic<long> cycles_constructed{0}, cycle_victims{0}, cycle_winners{0}, cycle_timeouts{0};
    std::atomic<long> slowest_ms{0};
};

std::string resource_name(int r) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "res-%02d", r);
    return buf;
}

void note_duration(Stats& stats, Clock::time_point start) {
    long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    long seen = stats.slowest_ms.load();
    while (ms > seen && !stats.slowest_ms.compare_exchange_weak(seen, ms)) {
    }
}

void worker(int id, int resources, Clock::time_point stop, int wait_for_s, Stats& stats,
            std::vector<Grant>& log, std::mutex& log_mutex) {
    std::mt19937 rng(static_cast<unsigned>(id * 7919 + 17));
    const std::string owner = "worker-" + std::to_string(id);
    const std::string wait_for = std::to_string(wait_for_s) + " seconds";
    std::vector<Grant> mine;
    try {
        Connection c;
        while (Clock::now() < stop) {
            std::vector<int> want{static_cast<int>(rng() % resources)};
            if (rng() % 2) {
                int second = static_cast<int>(rng() % resources);
                if (second != want[0]) want.push_back(second);
            }
            int mode = static_cast<int>(rng() % 3);  // 0: acquire_all, 1: one by one, 2: in one transaction
            bool use_all = mode == 0;
            bool in_transaction = mode == 2;
            std::vector<std::pair<int, long long>> held;
            bool ok = true;
            if (in_transaction) c.exec("BEGIN");
            try {
                if (use_all) {
                    std::string array = "{";
                    for (std::size_t k = 0; k < want.size(); ++k)
                        array += (k ? "," : "") + resource_name(want[k]);
                    array += "}";
                    auto start = Clock::now();
                    auto r = c.exec("SELECT name, token FROM coord.acquire_all($1::text[], $2, "
                                    "'1 minute', $3::interval)",
                                    {array, owner, wait_for});
                    note_duration(stats, start);
                    if (r.rows() == 0) {
                        ok = false;
                        stats.timeouts++;
                    }
                    for (int i = 0; i < r.rows(); ++i)
                        held.emplace_back(std::stoi(r.value(i, 0)->substr(4)), std::stoll(*r.value(i, 1)));
                } else {
                    for (int resource : want) {
                        auto start = Clock::now();
                        auto token = c.exec("SELECT coord.acquire($1, $2, '1 minute', $3::interval)",
                                            {resource_name(resource), owner, wait_for})
                                         .scalar();
                        note_duration(stats, start);
                        if (!token) {
                            ok = false;
                            stats.timeouts++;
                            break;
                        }
                        held.emplace_back(resource, std::stoll(*token));
                    }
                }
            } catch (const QueryError& e) {
                if (e.sqlstate() != "40P01") throw;
                stats.deadlocks++;  // the victim gives up what it holds and retries
                if (in_transaction) stats.deadlocks_in_transaction++;
                ok = false;
            }
            if (in_transaction && !ok) {
                c.exec("ROLLBACK");  // its own grants vanish with it
                // A hand-off is the releaser's write and outlives this
                // rollback (README, "Transactions"): release what is still ours.
                for (auto& [resource, token] : held)
                    c.exec("SELECT coord.release($1, $2)", {resource_name(resource), std::to_string(token)});
                held.clear();
            }
            if (ok) {
                auto from = Clock::now();
                // Server-side exclusivity check: every held resource's in_use must be 1.
                for (auto& [resource, token] : held) {
                    auto in_use = c.exec("UPDATE scenario_usage SET in_use = in_use + 1, uses = uses + 1 "
                                         "WHERE r = $1 RETURNING in_use",
                                         {std::to_string(resource)})
                                      .scalar();
                    if (!in_use || *in_use != "1") {
                        stats.violations++;
                        std::fprintf(stderr, "VIOLATION: %s in use by %s while held by worker %d\n",
                                     resource_name(resource).c_str(), in_use.value_or("?").c_str(), id);
                    }
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(1 + rng() % 10));
                for (auto& [resource, token] : held)
                    c.exec("UPDATE scenario_usage SET in_use = in_use - 1 WHERE r = $1",
                           {std::to_string(resource)});
                auto to = Clock::now();
                if (in_transaction) {
                    // Released in the same transaction; the next holder's grant
                    // begins at this COMMIT, so the interval ends after it.
                    for (auto& [resource, token] : held) {
                        auto released = c.exec("SELECT coord.release($1, $2)",
                                               {resource_name(resource), std::to_string(token)})
                                            .scalar();
                        if (released != std::optional<std::string>("t")) {
                            stats.violations++;
                            std::fprintf(stderr, "VIOLATION: worker %d lost %s (token %lld)\n", id,
                                         resource_name(resource).c_str(), token);
                        }
                    }
                    // The releases are invisible until COMMIT: the next holder
                    // cannot have the lease before this moment.
                    to = Clock::now();
                    c.exec("COMMIT");
                }
                for (auto& [resource, token] : held) mine.push_back({resource, token, id, from, to});
                stats.grants += static_cast<long>(held.size());
                stats.jobs++;
                if (in_transaction) held.clear();  // released above
            }
            for (auto& [resource, token] : held) {
                auto released = c.exec("SELECT coord.release($1, $2)",
                                       {resource_name(resource), std::to_string(token)})
                                    .scalar();
                if (released != std::optional<std::string>("t")) {
                    stats.violations++;
                    std::fprintf(stderr, "VIOLATION: worker %d lost %s (token %lld)\n", id,
                                 resource_name(resource).c_str(), token);
                }
            }
        }
    } catch (const std::exception& e) {
        stats.errors++;
        std::fprintf(stderr, "worker %d failed: %s\n", id, e.what());
    }
    std::lock_guard<std::mutex> guard(log_mutex);
    log.insert(log.end(), mine.begin(), mine.end());
}


// Two threads meet here (a test-side condition, not a delay).
class Barrier {
public:
    void arrive_and_wait() {
        std::unique_lock<std::mutex> lock(mutex_);
        long gen = generation_;
        if (++arrived_ == 2) {
            arrived_ = 0;
            ++generation_;
            cv_.notify_all();
            return;
        }
        cv_.wait(lock, [&] { return generation_ != gen; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    int arrived_ = 0;
    long generation_ = 0;
};

// One member of a pair that constructs A/B deadlocks: side 0 takes the
// pair's name a then waits for b, side 1 the mirror image, both inside an
// explicit transaction (uncommitted holdings). Round by round until `stop`.
void cycler(int pair, int side, Clock::time_point stop, int wait_for_s, Stats& stats, Barrier& barrier,
            std::atomic<bool>& go_on) {
    const std::string owner = "cycler-" + std::to_string(pair) + "-" + std::to_string(side);
    const std::string mine = "cyc-" + std::to_string(pair) + (side ? "-b" : "-a");
    const std::string theirs = "cyc-" + std::to_string(pair) + (side ? "-a" : "-b");
    const std::string wait_for = std::to_string(wait_for_s) + " seconds";
    try {
        Connection c;
        for (;;) {
            if (side == 0) go_on = Clock::now() < stop;
            barrier.arrive_and_wait();  // both see the same decision
            if (!go_on) break;
            c.exec("BEGIN");
            auto first = c.exec("SELECT coord.acquire($1, $2, '1 minute')", {mine, owner}).scalar();
            if (!first) throw std::runtime_error(owner + " could not take " + mine);
            barrier.arrive_and_wait();  // both hold their first name: the waits close a cycle
            if (side == 0) stats.cycles_constructed++;
            try {
                auto second = c.exec("SELECT coord.acquire($1, $2, '1 minute', $3::interval)",
                                     {theirs, owner, wait_for})
                                  .scalar();
                if (!second) {
                    stats.cycle_timeouts++;
                    c.exec("ROLLBACK");
                } else {
                    stats.cycle_winners++;
                    c.exec("SELECT coord.release($1, $2)", {mine, *first});
                    c.exec("SELECT coord.release($1, $2)", {theirs, *second});
                    c.exec("COMMIT");
                }
            } catch (const QueryError& e) {
                if (e.sqlstate() != "40P01") throw;
                stats.cycle_victims++;
                c.exec("ROLLBACK");
            }
            barrier.arrive_and_wait();  // the round is over for both
        }
    } catch (const std::exception& e) {
        stats.errors++;
        std::fprintf(stderr, "%s failed: %s\n", owner.c_str(), e.what());
        go_on = false;
    }
}

}  // namespace

int main(int argc, char** argv) {
    int workers = argc > 1 ? std::atoi(argv[1]) : 100;
    int resources = argc > 2 ? std::atoi(argv[2]) : 50;
    int seconds = argc > 3 ? std::atoi(argv[3]) : 20;
    int wait_for_s = argc > 4 ? std::atoi(argv[4]) : 10;
    int pairs = argc > 5 ? std::atoi(argv[5]) : 5;
    try {
        Connection admin;
        admin.exec("CREATE EXTENSION IF NOT EXISTS pg_coord");
        admin.exec("DROP TABLE IF EXISTS scenario_usage");
        admin.exec("CREATE TABLE scenario_usage (r int PRIMARY KEY, in_use int NOT NULL, uses int NOT NULL)");
        admin.exec("INSERT INTO scenario_usage SELECT i, 0, 0 FROM generate_series(0, $1::int - 1) i",
                   {std::to_string(resources)});

        Stats stats;
        std::vector<Grant> log;
        std::mutex log_mutex;
        auto stop = Clock::now() + std::chrono::seconds(seconds);
        std::vector<std::thread> threads;
        for (int i = 0; i < workers; ++i)
            threads.emplace_back(worker, i, resources, stop, wait_for_s, std::ref(stats), std::ref(log),
                                 std::ref(log_mutex));
        std::vector<std::unique_ptr<Barrier>> barriers;
        std::vector<std::unique_ptr<std::atomic<bool>>> go_on;
        for (int p = 0; p < pairs; ++p) {
            barriers.push_back(std::make_unique<Barrier>());
            go_on.push_back(std::make_unique<std::atomic<bool>>(true));
            for (int side = 0; side < 2; ++side)
                threads.emplace_back(cycler, p, side, stop, wait_for_s, std::ref(stats), std::ref(*barriers[p]),
                                     std::ref(*go_on[p]));
        }
        for (auto& t : threads) t.join();

        // The grant log: per resource, tokens strictly increase with time and
        // holdings never overlap.
        std::map<int, std::vector<Grant>> by_resource;
        for (const Grant& g : log) by_resource[g.resource].push_back(g);
        long overlaps = 0;
        for (auto& [resource, grants] : by_resource) {
            std::sort(grants.begin(), grants.end(),
                      [](const Grant& a, const Grant& b) { return a.token < b.token; });
            for (std::size_t i = 1; i < grants.size(); ++i) {
                if (grants[i].token == grants[i - 1].token || grants[i].from < grants[i - 1].to) {
                    ++overlaps;
                    std::fprintf(stderr, "OVERLAP on %s: token %lld (worker %d) and %lld (worker %d)\n",
                                 resource_name(resource).c_str(), grants[i - 1].token,
                                 grants[i - 1].worker, grants[i].token, grants[i].worker);
                }
            }
        }
        // Every victim recorded; nothing left waiting or cycled.
        long left_cycles = std::stol(*admin.exec("SELECT coord.detect_deadlocks()").scalar());
        long recorded = std::stol(*admin.exec("SELECT count(*) FROM coord.deadlocks").scalar());
        long persisted = std::stol(*admin.exec("SELECT count(*) FROM coord.deadlock_history").scalar());
        long waiting = std::stol(*admin.exec("SELECT count(*) FROM coord.waiters").scalar());
        long uses = std::stol(*admin.exec("SELECT coalesce(sum(uses), 0) FROM scenario_usage").scalar());
        long left_held = std::stol(*admin.exec("SELECT count(*) FROM coord.leases").scalar());
        long cycles_recorded = std::stol(
            *admin.exec("SELECT count(*) FROM coord.deadlocks WHERE victim LIKE 'cycler-%'").scalar());

        std::printf("workers %d, resources %d, %d s, wait_for %d s\n", workers, resources, seconds,
                    wait_for_s);
        std::printf("jobs %ld, grants %ld (server counted %ld), deadlock victims %ld, deadlocks "
                    "recorded %ld (%ld persisted), wait_for timeouts %ld, slowest acquire %ld ms\n",
                    stats.jobs.load(), stats.grants.load(), uses, stats.deadlocks.load(), recorded,
                    persisted, stats.timeouts.load(), stats.slowest_ms.load());
        std::printf("deadlock victims inside explicit transactions %ld\n",
                    stats.deadlocks_in_transaction.load());
        std::printf("constructed cycles %ld (%d pairs): reported %ld (40P01 to one member), recorded %ld, "
                    "other member granted %ld, wait_for ran out %ld\n",
                    stats.cycles_constructed.load(), pairs, stats.cycle_victims.load(), cycles_recorded,
                    stats.cycle_winners.load(), stats.cycle_timeouts.load());
        std::printf("violations %ld, log overlaps %ld, errors %ld, left waiting %ld, cycles left %ld, "
                    "leases left held %ld\n",
                    stats.violations.load(), overlaps, stats.errors.load(), waiting, left_cycles, left_held);
        bool pass = stats.violations == 0 && overlaps == 0 && stats.errors == 0 && waiting == 0 &&
                    left_cycles == 0 && left_held == 0 &&
                    recorded == stats.deadlocks + stats.cycle_victims && persisted == recorded &&
                    stats.cycle_victims == stats.cycles_constructed && cycles_recorded == stats.cycles_constructed &&
                    stats.cycle_winners == stats.cycles_constructed && stats.cycle_timeouts == 0 &&
                    (pairs == 0 || stats.cycles_constructed > 0) &&
                    stats.timeouts == 0 && stats.jobs > 0 && uses == stats.grants &&
                    stats.slowest_ms <= (wait_for_s + 2) * 1000L;
        std::printf("%s\n", pass ? "PASS" : "FAIL");
        return pass ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lease_contention: %s\n", e.what());
        return 1;
    }
}
