// A task-queue worker process for the task_workers scenario:
//   task_worker NAME QUEUE LEASE BATCH WORK_MS
// Loops: claim up to BATCH tasks with a claim lease of LEASE; for each, "work"
// WORK_MS milliseconds, then record the side effect and complete the task in
// ONE transaction (so an effect exists exactly when its completion does).
// A lost claim (PC001) rolls the effect back. Runs until killed.
#include "client/pg_client.hpp"

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

using coord::client::Connection;
using coord::client::QueryError;

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s NAME QUEUE LEASE BATCH WORK_MS\n", argv[0]);
        return 2;
    }
    std::string name = argv[1], queue = argv[2], lease = argv[3], batch = argv[4];
    int work_ms = std::stoi(argv[5]);
    try {
        Connection db;
        long completed = 0, lost = 0;
        for (;;) {
            auto claimed = db.exec(
                "SELECT task_id, token, execution_id FROM coord.claim($1, $2, $3::interval, $4::int)",
                {queue, name, lease, batch});
            if (claimed.rows() == 0) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                continue;
            }
            for (int i = 0; i < claimed.rows(); ++i) {
                std::string task_id = *claimed.value(i, 0), token = *claimed.value(i, 1),
                            execution_id = *claimed.value(i, 2);
                std::this_thread::sleep_for(std::chrono::milliseconds(work_ms));
                try {
                    db.exec("WITH effect AS (INSERT INTO scenario.effects (task_id, execution_id, worker) "
                            "                VALUES ($1::bigint, $3::uuid, $4)) "
                            "SELECT coord.complete($1::bigint, $2::bigint, "
                            "                      jsonb_build_object('worker', $4::text))",
                            {task_id, token, execution_id, name});
                    ++completed;
                } catch (const QueryError& e) {
                    if (e.sqlstate() != "PC001") throw;
                    ++lost;  // the claim expired and was requeued: not ours any more
                }
            }
            if (completed % 500 == 0)
                std::fprintf(stderr, "%s: %ld completed, %ld lost claims\n", name.c_str(), completed, lost);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", name.c_str(), e.what());
        return 1;
    }
}
