// Fenced writes under pauses (issue 14, test 4). N client processes, R
// resources: each client loops acquire → read → sleep a random 0–2×TTL →
// fenced write (BEGIN; coord.check_fence; lock the resource's row; record
// the write with the token it held and the token of the write before it;
// COMMIT) → release, for a bounded time, while this process (the chaos
// driver) freezes random clients with SIGSTOP for up to 3×TTL (also in the
// middle of a fenced write's transaction), resumes them with SIGCONT, and
// kills random clients with SIGKILL (replacing them).
// Asserts: no accepted write has a token lower than the write accepted
// before it for that resource (the resource row's lock orders the writes).
// Prints how often two clients believed they held the same lock at once
// (overlapping intervals from acquire's return to the end of the write
// attempt): expected > 0, the figure that shows why fencing matters.
// Usage: fenced_pauses CLIENTS RESOURCES TTL_MS SECONDS LOGDIR  (PG* environment;
//        the tables fz.resource and fz.writes exist, see run)
#include "client/pg_client.hpp"

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using coord::client::Connection;
using coord::client::QueryError;

namespace {

long long mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);  // one clock for every process of the machine
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void sleep_ms(long ms) {
    if (ms <= 0) return;
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

// One client process: its holdings and their outcomes go to its log, a
// line each: resource token start_ns end_ns outcome.
int client_main(int id, int resources, int ttl_ms, long long deadline_ns, const std::string& log_path) {
    std::mt19937 rng(static_cast<unsigned>(getpid()) * 7919u + static_cast<unsigned>(mono_ns()));
    FILE* log = std::fopen(log_path.c_str(), "a");
    if (!log) return 2;
    const std::string owner = "client-" + std::to_string(id) + "-" + std::to_string(getpid());
    const std::string ttl = std::to_string(ttl_ms) + " milliseconds";
    try {
        Connection c;
        c.exec("SET statement_timeout = '60s'");
        while (mono_ns() < deadline_ns) {
            int r = static_cast<int>(rng() % static_cast<unsigned>(resources));
            std::string name = "pause:" + std::to_string(r);
            auto token = c.exec("SELECT coord.acquire($1, $2, $3::interval)", {name, owner, ttl}).scalar();
            if (!token) {
                sleep_ms(static_cast<long>(rng() % 30));
                continue;
            }
            long long start = mono_ns();
            c.exec("SELECT last_token FROM fz.resource WHERE resource = $1", {std::to_string(r)});  // the read
            sleep_ms(static_cast<long>(rng() % static_cast<unsigned>(2 * ttl_ms + 1)));
            std::string outcome = "accepted";
            try {
                c.exec("BEGIN");
                c.exec("SELECT coord.check_fence($1, $2)", {name, *token});
                auto prev = c.exec("SELECT last_token FROM fz.resource WHERE resource = $1 FOR UPDATE",
                                   {std::to_string(r)}).scalar();
                c.exec("UPDATE fz.resource SET last_token = $2 WHERE resource = $1", {std::to_string(r), *token});
                c.exec("INSERT INTO fz.writes (resource, token, prev_token, client) VALUES ($1, $2, $3, $4)",
                       {std::to_string(r), *token, prev, owner});
                c.exec("COMMIT");
            } catch (const QueryError& e) {
                outcome = e.sqlstate() == "PC001" ? "rejected" : "error:" + e.sqlstate();
                c.exec("ROLLBACK");
            }
            long long end = mono_ns();
            std::fprintf(log, "%d %s %lld %lld %s\n", r, token->c_str(), start, end, outcome.c_str());
            std::fflush(log);
            try {
                c.exec("SELECT coord.release($1, $2)", {name, *token});
            } catch (const QueryError&) {  // PC001: it had expired (and maybe been taken)
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "client %d: %s\n", id, e.what());
        std::fclose(log);
        return 1;
    }
    std::fclose(log);
    return 0;
}

struct Holding {
    int resource;
    long long start, end;
    int client;
    std::string outcome;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: fenced_pauses CLIENTS RESOURCES TTL_MS SECONDS LOGDIR\n");
        return 2;
    }
    const int clients = std::atoi(argv[1]), resources = std::atoi(argv[2]), ttl_ms = std::atoi(argv[3]);
    const int seconds = std::atoi(argv[4]);
    const std::string logdir = argv[5];
    const long long deadline = mono_ns() + seconds * 1000000000LL;
    std::mt19937 rng(12345u ^ static_cast<unsigned>(getpid()));

    int next_id = 0;
    std::map<pid_t, int> live;  // pid -> client id
    auto spawn = [&] {
        int id = next_id++;
        pid_t pid = fork();
        if (pid == 0) _exit(client_main(id, resources, ttl_ms, deadline, logdir + "/client-" + std::to_string(id)));
        live[pid] = id;
    };
    for (int i = 0; i < clients; ++i) spawn();

    // The chaos: every 20-100 ms one action on a random client.
    std::map<pid_t, long long> stopped;  // pid -> when to resume
    long stops = 0, kills = 0, stops_mid_write_possible = 0;
    while (mono_ns() < deadline) {
        sleep_ms(20 + static_cast<long>(rng() % 80));
        long long now = mono_ns();
        for (auto it = stopped.begin(); it != stopped.end();) {
            if (it->second <= now) {
                kill(it->first, SIGCONT);
                it = stopped.erase(it);
            } else {
                ++it;
            }
        }
        int status;
        for (pid_t p; (p = waitpid(-1, &status, WNOHANG)) > 0;) {
            live.erase(p);
            stopped.erase(p);
        }
        if (live.empty() || now > deadline - 1000000000LL) continue;  // the last second: no new pauses
        auto it = live.begin();
        std::advance(it, static_cast<long>(rng() % live.size()));
        pid_t victim = it->first;
        unsigned dice = rng() % 100;
        if (dice < 60 && !stopped.count(victim)) {
            kill(victim, SIGSTOP);
            stopped[victim] = now + static_cast<long long>(rng() % static_cast<unsigned>(3 * ttl_ms + 1)) * 1000000LL;
            ++stops;
            ++stops_mid_write_possible;
        } else if (dice < 65) {
            kill(victim, SIGKILL);
            waitpid(victim, &status, 0);
            live.erase(victim);
            stopped.erase(victim);
            ++kills;
            spawn();
        }
    }
    for (auto& [pid, when] : stopped) kill(pid, SIGCONT);
    // Every client ends its current holding (at most 2×TTL of sleep, then a
    // write that may wait behind another's fenced transaction).
    long long give_up = mono_ns() + (10LL * ttl_ms + 20000) * 1000000LL;
    int failed_clients = 0;
    while (!live.empty() && mono_ns() < give_up) {
        int status;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p > 0) {
            if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) ++failed_clients;
            live.erase(p);
        } else {
            sleep_ms(50);
        }
    }
    for (auto& [pid, id] : live) {
        std::fprintf(stderr, "client %d did not finish: killed\n", id);
        kill(pid, SIGKILL);
        ++failed_clients;
    }

    // The clients' beliefs.
    std::vector<Holding> holdings;
    long accepted_logged = 0, rejected = 0, errors = 0;
    for (int id = 0; id < next_id; ++id) {
        std::ifstream in(logdir + "/client-" + std::to_string(id));
        for (std::string line; std::getline(in, line);) {
            std::istringstream f(line);
            Holding h;
            std::string token;
            if (!(f >> h.resource >> token >> h.start >> h.end >> h.outcome)) continue;  // cut by SIGKILL
            h.client = id;
            holdings.push_back(h);
            if (h.outcome == "accepted") ++accepted_logged;
            else if (h.outcome == "rejected") ++rejected;
            else ++errors;
        }
    }
    std::sort(holdings.begin(), holdings.end(), [](const Holding& a, const Holding& b) {
        return a.resource != b.resource ? a.resource < b.resource : a.start < b.start;
    });
    long beliefs = 0;  // pairs of holdings of one resource, by two clients, overlapping in time
    for (std::size_t i = 0; i < holdings.size(); ++i)
        for (std::size_t j = i + 1; j < holdings.size() && holdings[j].resource == holdings[i].resource &&
                                    holdings[j].start < holdings[i].end;
             ++j)
            if (holdings[j].client != holdings[i].client) ++beliefs;

    Connection c;
    auto r = c.exec(
        "SELECT count(*), count(*) FILTER (WHERE token < prev_token), "
        "       count(*) FILTER (WHERE token = prev_token), count(DISTINCT (resource, token)) "
        "FROM fz.writes");
    long accepted = std::stol(*r.value(0, 0)), out_of_order = std::stol(*r.value(0, 1));
    long repeated = std::stol(*r.value(0, 2)), distinct = std::stol(*r.value(0, 3));
    // The same check in commit order per resource, independently of prev_token.
    auto order = c.exec(
        "SELECT count(*) FROM (SELECT token < max(token) OVER (PARTITION BY resource ORDER BY id "
        "  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS back FROM fz.writes) s WHERE back");
    long stepped_back = std::stol(*order.scalar());

    std::printf("pauses: %d clients, %d resources, TTL %d ms, %d s: %ld SIGSTOP/SIGCONT, %ld SIGKILL\n", clients,
                resources, ttl_ms, seconds, stops, kills);
    std::printf("pauses: %zu holdings logged; writes accepted %ld (%ld logged, the rest by killed clients), "
                "rejected as stale (PC001) %ld, other errors %ld\n",
                holdings.size(), accepted, accepted_logged, rejected, errors);
    std::printf("pauses: accepted writes out of order (token lower than the one accepted before): %ld "
                "(by prev_token), %ld (by commit order); same token twice: %ld\n",
                out_of_order, stepped_back, repeated);
    std::printf("pauses: two clients believed they held the same lock at once: %ld times\n", beliefs);
    bool ok = out_of_order == 0 && stepped_back == 0 && repeated == 0 && distinct == accepted && errors == 0 &&
              failed_clients == 0 && accepted > 0 && rejected > 0;
    if (failed_clients) std::printf("FAIL: %d client(s) failed or did not finish\n", failed_clients);
    if (errors) std::printf("FAIL: %ld write(s) failed with an unexpected error\n", errors);
    if (accepted == 0 || rejected == 0) std::printf("FAIL: the workload did not exercise both outcomes\n");
    std::printf(ok ? "ok: no accepted write with a token lower than one accepted before\n" : "FAIL: fencing\n");
    return ok ? 0 : 1;
}
