// Driver of bench/queue/run: pg_coord's task queue against a hand-written
// FOR UPDATE SKIP LOCKED queue (bench/queue/handwritten.sql), same cluster,
// same run. Statements are prepared once per connection for both.
//   queue_bench enqueue    coord|hand CLIENTS SECONDS           -> tasks/s
//   queue_bench throughput coord|hand WORKERS BATCH SECONDS     -> tasks/s
//       each worker: claim up to BATCH (one transaction), then complete
//       each claimed task in its own transaction
//   queue_bench batched    coord|hand WORKERS BATCH SECONDS     -> tasks/s
//       each worker: claim up to BATCH (one transaction), then complete them
//       all in one statement (coord.complete_many; by hand an UPDATE over
//       = ANY ids)
//   queue_bench enqueue_many coord|hand CLIENTS SECONDS         -> tasks/s
//       100 tasks per statement (coord.enqueue_many; a 100-row INSERT)
//   queue_bench latency    coord|hand CLAIMS                    -> p50 p95 (microseconds)
//       one worker: claim one task (timed), complete it (not timed);
//       synchronous_commit off in this session
//   queue_bench wakeup     wait|poll TASKS                      -> p50 p99 (milliseconds)
//       an idle worker (queue 'wake'): wait claims with claim(wait_for),
//       poll claims without waiting and sleeps 0.5 s when it got nothing;
//       a producer enqueues one task at a time once the worker is idle (for
//       poll at a random point of its sleep), and the time from sending the
//       enqueue to the worker holding the claim is measured
#include "client/pg_client.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
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
        check(r);
        PQclear(r);
    }
    // Runs a prepared statement; returns the result (caller PQclears).
    PGresult* run(const char* name, std::initializer_list<const char*> params) {
        std::vector<const char*> v(params);
        PGresult* r = PQexecPrepared(c, name, static_cast<int>(v.size()), v.data(), nullptr, nullptr, 0);
        check(r);
        return r;
    }
    void exec(const char* sql) {
        PGresult* r = PQexec(c, sql);
        check(r);
        PQclear(r);
    }
    void check(PGresult* r) {
        auto s = PQresultStatus(r);
        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
            std::string m = PQresultErrorMessage(r);
            PQclear(r);
            throw std::runtime_error(m);
        }
    }
};

void prepare_all(Conn& db, bool coord) {
    if (coord) {
        db.prepare("enqueue", "SELECT coord.enqueue('bench', '{\"n\": 1}')");
        db.prepare("claim", "SELECT task_id, token FROM coord.claim('bench', $1, '10 minutes', $2::int)");
        db.prepare("complete", "SELECT coord.complete($1::bigint, $2::bigint)");
        db.prepare("complete_many", "SELECT count(*) FROM coord.complete_many($1::bigint[], $2::bigint[])");
        db.prepare("enqueue_many",
                   "SELECT count(*) FROM coord.enqueue_many('bench', array_fill('{\"n\": 1}'::jsonb, ARRAY[100]))");
    } else {
        db.prepare("enqueue", "INSERT INTO hand_queue (queue, payload) VALUES ('bench', '{\"n\": 1}') RETURNING id");
        db.prepare("claim",
                   "UPDATE hand_queue SET state = 'processing', attempts = attempts + 1, locked_by = $1, "
                   "       locked_until = now() + interval '10 minutes' "
                   "WHERE id IN (SELECT id FROM hand_queue "
                   "             WHERE queue = 'bench' AND state = 'pending' AND run_at <= now() "
                   "             ORDER BY priority DESC, run_at, id LIMIT $2::int FOR UPDATE SKIP LOCKED) "
                   "RETURNING id, attempts");
        db.prepare("complete",
                   "UPDATE hand_queue SET state = 'done', finished_at = now() "
                   "WHERE id = $1::bigint AND state = 'processing' AND attempts = $2::int");
        db.prepare("complete_many",
                   "UPDATE hand_queue SET state = 'done', finished_at = now() "
                   "WHERE id = ANY ($1::bigint[]) AND state = 'processing'");
        db.prepare("enqueue_many",
                   "INSERT INTO hand_queue (queue, payload) SELECT 'bench', '{\"n\": 1}' "
                   "FROM generate_series(1, 100)");
    }
}

int enqueue_bench(bool coord, int clients, int seconds) {
    std::atomic<long> done{0};
    std::vector<std::thread> threads;
    auto until = Clock::now() + std::chrono::seconds(seconds);
    for (int i = 0; i < clients; ++i)
        threads.emplace_back([&] {
            Conn db;
            prepare_all(db, coord);
            long n = 0;
            while (Clock::now() < until) {
                PQclear(db.run("enqueue", {}));
                ++n;
            }
            done += n;
        });
    for (auto& t : threads) t.join();
    std::printf("%.0f\n", static_cast<double>(done) / seconds);
    return 0;
}

int enqueue_many_bench(bool coord, int clients, int seconds) {
    std::atomic<long> done{0};
    std::vector<std::thread> threads;
    auto until = Clock::now() + std::chrono::seconds(seconds);
    for (int i = 0; i < clients; ++i)
        threads.emplace_back([&] {
            Conn db;
            prepare_all(db, coord);
            long n = 0;
            while (Clock::now() < until) {
                PQclear(db.run("enqueue_many", {}));
                n += 100;
            }
            done += n;
        });
    for (auto& t : threads) t.join();
    std::printf("%.0f\n", static_cast<double>(done) / seconds);
    return 0;
}

int batched_bench(bool coord, int workers, int batch, int seconds) {
    std::atomic<long> done{0};
    std::vector<std::thread> threads;
    auto until = Clock::now() + std::chrono::seconds(seconds);
    std::string batch_text = std::to_string(batch);
    for (int i = 0; i < workers; ++i)
        threads.emplace_back([&, i] {
            Conn db;
            prepare_all(db, coord);
            std::string name = "bench-worker-" + std::to_string(i);
            long n = 0;
            while (Clock::now() < until) {
                PGresult* claimed = db.run("claim", {name.c_str(), batch_text.c_str()});
                int rows = PQntuples(claimed);
                if (rows == 0) {
                    PQclear(claimed);
                    std::fprintf(stderr, "backlog exhausted\n");
                    break;
                }
                std::string ids = "{", tokens = "{";
                for (int r = 0; r < rows; ++r) {
                    ids += (r ? "," : "") + std::string(PQgetvalue(claimed, r, 0));
                    tokens += (r ? "," : "") + std::string(PQgetvalue(claimed, r, 1));
                }
                ids += "}";
                tokens += "}";
                PQclear(claimed);
                PQclear(db.run("complete_many", coord ? std::initializer_list<const char*>{ids.c_str(), tokens.c_str()}
                                                      : std::initializer_list<const char*>{ids.c_str()}));
                n += rows;
            }
            done += n;
        });
    for (auto& t : threads) t.join();
    std::printf("%.0f\n", static_cast<double>(done) / seconds);
    return 0;
}

int throughput_bench(bool coord, int workers, int batch, int seconds) {
    std::atomic<long> done{0};
    std::vector<std::thread> threads;
    auto until = Clock::now() + std::chrono::seconds(seconds);
    std::string batch_text = std::to_string(batch);
    for (int i = 0; i < workers; ++i)
        threads.emplace_back([&, i] {
            Conn db;
            prepare_all(db, coord);
            std::string name = "bench-worker-" + std::to_string(i);
            long n = 0;
            while (Clock::now() < until) {
                PGresult* claimed = db.run("claim", {name.c_str(), batch_text.c_str()});
                int rows = PQntuples(claimed);
                for (int r = 0; r < rows; ++r) {
                    PGresult* c = db.run("complete", {PQgetvalue(claimed, r, 0), PQgetvalue(claimed, r, 1)});
                    PQclear(c);
                    ++n;
                }
                PQclear(claimed);
                if (rows == 0) {
                    std::fprintf(stderr, "backlog exhausted\n");
                    break;
                }
            }
            done += n;
        });
    for (auto& t : threads) t.join();
    std::printf("%.0f\n", static_cast<double>(done) / seconds);
    return 0;
}

int latency_bench(bool coord, int claims) {
    Conn db;
    // The claim's own work, not the WAL flush of its commit (which is the
    // same for every backlog and dominates, noisily, on a shared machine).
    db.exec("SET synchronous_commit = off");
    prepare_all(db, coord);
    std::vector<double> us;
    us.reserve(claims);
    for (int i = 0; i < claims; ++i) {
        auto t0 = Clock::now();
        PGresult* claimed = db.run("claim", {"latency-worker", "1"});
        auto t1 = Clock::now();
        if (PQntuples(claimed) != 1) {
            PQclear(claimed);
            throw std::runtime_error("backlog exhausted");
        }
        PQclear(db.run("complete", {PQgetvalue(claimed, 0, 0), PQgetvalue(claimed, 0, 1)}));
        PQclear(claimed);
        us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    std::sort(us.begin(), us.end());
    std::printf("%.0f %.0f\n", us[us.size() / 2], us[us.size() * 95 / 100]);
    return 0;
}

}  // namespace

int wakeup_bench(bool wait, int tasks) {
    Conn producer;
    std::atomic<int> claimed{0};
    std::vector<Clock::time_point> sent(static_cast<std::size_t>(tasks)), got(static_cast<std::size_t>(tasks));
    std::string error;
    int waiter_pid = 0;
    std::atomic<bool> ready{false};
    std::thread worker([&] {
        try {
            Conn w;
            PGresult* r = PQexec(w.c, "SELECT pg_backend_pid()");
            w.check(r);
            waiter_pid = std::atoi(PQgetvalue(r, 0, 0));
            PQclear(r);
            w.prepare("claim", wait ? "SELECT task_id, token FROM coord.claim('wake', 'w', wait_for => '30 s')"
                                    : "SELECT task_id, token FROM coord.claim('wake', 'w')");
            w.prepare("complete", "SELECT coord.complete($1, $2)");
            ready = true;
            while (claimed < tasks) {
                PGresult* c = w.run("claim", {});
                if (PQntuples(c) == 0) {
                    PQclear(c);
                    if (!wait) std::this_thread::sleep_for(std::chrono::milliseconds(500));
                    continue;
                }
                got[static_cast<std::size_t>(claimed.load())] = Clock::now();
                std::string id = PQgetvalue(c, 0, 0), token = PQgetvalue(c, 0, 1);
                PQclear(c);
                PQclear(w.run("complete", {id.c_str(), token.c_str()}));
                ++claimed;
            }
        } catch (const std::exception& e) {
            error = e.what();
            claimed = tasks;
        }
    });
    while (!ready && error.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    producer.prepare("enqueue", "SELECT coord.enqueue('wake', '{}')");
    producer.prepare("idle",
                     "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Extension'");
    std::string pid = std::to_string(waiter_pid);
    unsigned seed = 12345;
    for (int i = 0; i < tasks && error.empty(); ++i) {
        while (claimed < i) std::this_thread::sleep_for(std::chrono::microseconds(200));
        if (wait) {
            // Until the worker sleeps in its claim (a condition, not a delay).
            for (;;) {
                PGresult* r = producer.run("idle", {pid.c_str()});
                bool idle = std::strcmp(PQgetvalue(r, 0, 0), "1") == 0;
                PQclear(r);
                if (idle) break;
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
        } else {
            seed = seed * 1103515245u + 12345u;
            std::this_thread::sleep_for(std::chrono::milliseconds(20 + (seed >> 8) % 500));
        }
        sent[static_cast<std::size_t>(i)] = Clock::now();
        PQclear(producer.run("enqueue", {}));
    }
    worker.join();
    if (!error.empty()) throw std::runtime_error(error);
    std::vector<double> ms;
    for (int i = 0; i < tasks; ++i)
        ms.push_back(std::chrono::duration<double, std::milli>(got[static_cast<std::size_t>(i)] -
                                                               sent[static_cast<std::size_t>(i)]).count());
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) { return ms[static_cast<std::size_t>(q * (ms.size() - 1))]; };
    std::printf("%.2f %.2f\n", at(0.5), at(0.99));
    return 0;
}

int main(int argc, char** argv) {
    try {
        if (argc < 4) throw std::runtime_error("usage: see the header of bench/queue_bench.cpp");
        std::string mode = argv[1];
        bool coord = std::strcmp(argv[2], "coord") == 0;
        if (mode == "wakeup" && argc == 4) return wakeup_bench(std::strcmp(argv[2], "wait") == 0, std::stoi(argv[3]));
        if (mode == "enqueue" && argc == 5) return enqueue_bench(coord, std::stoi(argv[3]), std::stoi(argv[4]));
        if (mode == "throughput" && argc == 6)
            return throughput_bench(coord, std::stoi(argv[3]), std::stoi(argv[4]), std::stoi(argv[5]));
        if (mode == "batched" && argc == 6)
            return batched_bench(coord, std::stoi(argv[3]), std::stoi(argv[4]), std::stoi(argv[5]));
        if (mode == "enqueue_many" && argc == 5)
            return enqueue_many_bench(coord, std::stoi(argv[3]), std::stoi(argv[4]));
        if (mode == "latency" && argc == 4) return latency_bench(coord, std::stoi(argv[3]));
        throw std::runtime_error("bad arguments");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "queue_bench: %s\n", e.what());
        return 1;
    }
}
