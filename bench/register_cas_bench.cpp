// Driver of bench/registers/run: coord.register_cas against the hand-written
// UPDATE ... WHERE version = $1 RETURNING, same cluster, same run.
//   register_cas_bench coord|hand CLIENTS KEYS SECONDS   -> "swaps/s calls_per_swap"
// Each client swaps random keys (of KEYS) in a loop. It remembers the version
// it last saw of each key and swaps with it; when that version was stale it
// retries with the current one until it swaps:
//   coord: register_cas answers with the current version: retry at once;
//   hand:  the UPDATE answers no row: SELECT the version, then retry.
// One swap counts when it has happened; calls count every statement sent.
// Statements are prepared once per connection for both.
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
    PGconn* c;
    Conn() : c(PQconnectdb("")) {
        if (PQstatus(c) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(c));
    }
    ~Conn() { PQfinish(c); }
    void prepare(const char* name, const char* sql) {
        PGresult* r = PQprepare(c, name, sql, 0, nullptr);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) throw std::runtime_error(PQerrorMessage(c));
        PQclear(r);
    }
    // A prepared statement's result (the caller PQclears it).
    PGresult* run(const char* name, std::initializer_list<const char*> params) {
        std::vector<const char*> v(params);
        PGresult* r = PQexecPrepared(c, name, static_cast<int>(v.size()), v.data(), nullptr, nullptr, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            std::string message = PQresultErrorMessage(r);
            PQclear(r);
            throw std::runtime_error(message);
        }
        return r;
    }
};

struct Counts {
    std::atomic<long> swaps{0}, calls{0};
};

void client(bool coord, int id, int keys, Clock::time_point stop, Counts& counts) {
    Conn db;
    if (coord) {
        db.prepare("cas", "SELECT swapped, version FROM coord.register_cas($1, $2::bigint, $3::jsonb)");
    } else {
        db.prepare("cas", "UPDATE bench_registers SET value = $3::jsonb, version = version + 1 "
                          "WHERE key = $1 AND version = $2::bigint RETURNING version");
        db.prepare("get", "SELECT version FROM bench_registers WHERE key = $1");
    }
    std::mt19937 rng(static_cast<unsigned>(id * 7919 + 1));
    std::vector<long long> seen(static_cast<std::size_t>(keys), 1);  // every key starts at version 1
    long swaps = 0, calls = 0;
    char value[64];
    while (Clock::now() < stop) {
        int k = static_cast<int>(rng() % static_cast<unsigned>(keys));
        std::string key = "k" + std::to_string(k);
        std::snprintf(value, sizeof value, "{\"by\": %d, \"n\": %ld}", id, swaps);
        for (;;) {
            std::string expected = std::to_string(seen[k]);
            PGresult* r = db.run("cas", {key.c_str(), expected.c_str(), value});
            ++calls;
            if (coord) {
                bool swapped = PQgetvalue(r, 0, 0)[0] == 't';
                seen[k] = std::stoll(PQgetvalue(r, 0, 1));
                PQclear(r);
                if (swapped) break;
            } else {
                bool swapped = PQntuples(r) == 1;
                if (swapped) seen[k] = std::stoll(PQgetvalue(r, 0, 0));
                PQclear(r);
                if (swapped) break;
                r = db.run("get", {key.c_str()});
                ++calls;
                seen[k] = std::stoll(PQgetvalue(r, 0, 0));
                PQclear(r);
            }
        }
        ++swaps;
    }
    counts.swaps += swaps;
    counts.calls += calls;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: register_cas_bench coord|hand CLIENTS KEYS SECONDS\n");
        return 2;
    }
    bool coord = std::strcmp(argv[1], "coord") == 0;
    int clients = std::stoi(argv[2]), keys = std::stoi(argv[3]);
    double seconds = std::stod(argv[4]);
    auto start = Clock::now();
    auto stop = start + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
    Counts counts;
    std::vector<std::thread> threads;
    std::atomic<int> failed{0};
    for (int i = 0; i < clients; ++i)
        threads.emplace_back([&, i] {
            try {
                client(coord, i, keys, stop, counts);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "client %d: %s\n", i, e.what());
                ++failed;
            }
        });
    for (auto& t : threads) t.join();
    if (failed) return 1;
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%.0f %.2f\n", counts.swaps / elapsed,
                counts.swaps ? static_cast<double>(counts.calls) / counts.swaps : 0.0);
}
