// One candidate of the election_failover scenario (a process of its own).
// Loop, every ttl/3 (and a fenced write right after being elected):
//   * while it believes it leads with term T: a write fenced by T (one
//     statement, so that a paused client never holds the fence's lock); if
//     it is refused (PC001), it asks coord.leader() who leads now and logs
//     what it learnt;
//   * coord.campaign (its heartbeat, and its campaign);
//   * as a follower, coord.leader_wait for a change of the term it knows, at
//     most ttl/3, so that it campaigns at once when the term ends.
// A lost connection (its backend killed) is reopened. Every event is one
// line appended to the log file, flushed at once (the process may be
// killed with SIGKILL at any moment):
//   ELECTED <term> | WRITE <term> | REFUSED <term> | DEPOSED <old> <new term or -> <leader or -> | RECONNECTED
// Usage: election_candidate NAME LOG_FILE [ELECTION] [TTL_MS]
#include "client/pg_client.hpp"

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

using coord::client::Connection;
using coord::client::QueryError;
using Clock = std::chrono::steady_clock;

namespace {

FILE* log_file = nullptr;

void log_line(const std::string& line) {
    std::fprintf(log_file, "%s\n", line.c_str());
    std::fflush(log_file);
}

bool connection_lost(const QueryError& e) { return e.sqlstate().rfind("08", 0) == 0 || e.sqlstate() == "57P01"; }

class Candidate {
public:
    Candidate(std::string name, std::string election, long ttl_ms)
        : name_(std::move(name)), election_(std::move(election)), ttl_ms_(ttl_ms) {}

    [[noreturn]] void run() {
        connect();
        for (;;) {
            auto period_start = Clock::now();
            try {
                step();
            } catch (const QueryError& e) {
                if (!connection_lost(e)) throw;
                reconnect();
                continue;  // the write under the old term is tried again at once
            }
            if (leading_) std::this_thread::sleep_until(period_start + std::chrono::milliseconds(ttl_ms_ / 3));
        }
    }

private:
    void connect() { db_.emplace("application_name=" + name_); }

    void reconnect() {
        for (;;) {
            try {
                connect();
                log_line("RECONNECTED");
                return;
            } catch (const QueryError&) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
    }

    void step() {
        if (leading_ && !fenced_write(*leading_)) leading_.reset();
        std::optional<std::string> term =
            db_->exec("SELECT coord.campaign($1, $2, $3::interval, $4::jsonb)",
                      {election_, name_, std::to_string(ttl_ms_) + " ms",
                       "{\"addr\": \"" + name_ + "\"}"})
                .scalar();
        if (term) {
            long long t = std::stoll(*term);
            known_ = *term;
            if (leading_ == t) return;
            log_line("ELECTED " + *term);
            leading_ = t;
            if (!fenced_write(t)) leading_.reset();  // a new leader writes at once
            return;
        }
        leading_.reset();
        auto r = db_->exec("SELECT term FROM coord.leader_wait($1, $2::bigint, $3::interval)",
                           {election_, known_, std::to_string(ttl_ms_ / 3) + " ms"});
        known_ = r.scalar();
    }

    // False when the term no longer holds (the write was refused).
    bool fenced_write(long long term) {
        std::string t = std::to_string(term);
        try {
            db_->exec("WITH fence AS (SELECT coord.check_fence('election:' || $1, $2::bigint)) "
                      "INSERT INTO scenario.writes (term, candidate) SELECT $2::bigint, $3 FROM fence",
                      {election_, t, name_});
            log_line("WRITE " + t);
            return true;
        } catch (const QueryError& e) {
            if (e.sqlstate() != "PC001") throw;
        }
        log_line("REFUSED " + t);
        auto now = db_->exec("SELECT term, leader FROM coord.leader($1)", {election_});
        log_line("DEPOSED " + t + " " + (now.rows() ? *now.value(0, 0) : "-") + " " +
                 (now.rows() ? *now.value(0, 1) : "-"));
        return false;
    }

    std::string name_, election_;
    long ttl_ms_;
    std::optional<Connection> db_;
    std::optional<long long> leading_;
    std::optional<std::string> known_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: election_candidate NAME LOG_FILE [ELECTION] [TTL_MS]\n");
        return 2;
    }
    log_file = std::fopen(argv[2], "a");
    if (!log_file) return 2;
    try {
        Candidate(argv[1], argc > 3 ? argv[3] : "svc", argc > 4 ? std::stol(argv[4]) : 3000).run();
    } catch (const std::exception& e) {
        log_line(std::string("ERROR ") + e.what());
        return 1;
    }
}
