// The dead_letter scenario's client: one session LISTENs on coord_alerts;
// another runs a handler that always fails until the task is dead. Then the
// listener must receive (libpq PQnotifies) the task_dead alert for the task,
// raised by the background worker, within a timeout.
//   dead_letter_check MAX_ATTEMPTS TIMEOUT_SECONDS
#include "client/pg_client.hpp"

#include <sys/select.h>

#include <chrono>
#include <cstdio>
#include <string>

using coord::client::Connection;

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s MAX_ATTEMPTS TIMEOUT_SECONDS\n", argv[0]);
        return 2;
    }
    std::string max_attempts = argv[1];
    int timeout_s = std::stoi(argv[2]);
    try {
        Connection listener;
        listener.exec("LISTEN coord_alerts");

        Connection app;
        app.exec("SELECT coord.queue_create('fragile')");
        std::string task_id = *app.exec("SELECT coord.enqueue('fragile', '{\"mail\": 1}', "
                                        "max_attempts => $1::int)",
                                        {max_attempts}).scalar();
        std::printf("enqueued task %s with max_attempts %s\n", task_id.c_str(), max_attempts.c_str());

        // The handler: claim, "send the mail", fail. retry_in 0 so the test
        // need not wait for the backoff.
        std::string state = "pending";
        int attempts = 0;
        auto start = std::chrono::steady_clock::now();
        while (state != "dead") {
            if (std::chrono::steady_clock::now() - start > std::chrono::seconds(timeout_s)) {
                std::printf("FAIL: task not dead after %d s\n", timeout_s);
                return 1;
            }
            auto claimed = app.exec("SELECT task_id, token FROM coord.claim('fragile', 'handler')");
            if (claimed.rows() == 0) continue;
            ++attempts;
            state = *app.exec("SELECT coord.fail($1::bigint, $2::bigint, 'smtp: connection refused', "
                              "retry_in => '0 seconds')",
                              {*claimed.value(0, 0), *claimed.value(0, 1)})
                         .scalar();
            std::printf("attempt %d failed: task is now %s\n", attempts, state.c_str());
        }
        if (std::to_string(attempts) != max_attempts) {
            std::printf("FAIL: dead after %d attempts, expected %s\n", attempts, max_attempts.c_str());
            return 1;
        }

        // Wait for the alert's NOTIFY (the background worker's next sweep).
        PGconn* conn = listener.raw();
        int sock = PQsocket(conn);
        while (std::chrono::steady_clock::now() - start < std::chrono::seconds(timeout_s)) {
            fd_set fds;
            FD_ZERO(&fds);
            FD_SET(sock, &fds);
            timeval tv{0, 200 * 1000};
            select(sock + 1, &fds, nullptr, nullptr, &tv);
            PQconsumeInput(conn);
            while (PGnotify* n = PQnotifies(conn)) {
                std::string channel = n->relname, payload = n->extra;
                PQfreemem(n);
                std::printf("NOTIFY %s: %s\n", channel.c_str(), payload.c_str());
                // The payload is JSON; check the fields with the server's parser.
                // Any role can LISTEN, so it names the alert and nothing more:
                // subject and detail are read from coord.alerts by its id.
                auto ok = app.exec(
                    "SELECT p ->> 'event' = 'raised' AND p ->> 'kind' = 'task_dead' "
                    "   AND (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(p) k) "
                    "       = '{event,id,kind,raised_at}' "
                    "   AND a.subject = $2 AND a.detail ->> 'queue' = 'fragile' "
                    "   AND (a.detail ->> 'attempts')::int = $3::int "
                    "   AND NOT (a.detail ? 'last_error') "
                    "FROM (SELECT $1::jsonb AS p) s "
                    "JOIN coord.alerts a ON a.id = (p ->> 'id')::bigint",
                    {payload, task_id, max_attempts});
                if (ok.scalar() == std::optional<std::string>("t")) {
                    std::printf("ok: task_dead alert for task %s received by the listener\n", task_id.c_str());
                    return 0;
                }
            }
        }
        std::printf("FAIL: no task_dead NOTIFY for task %s within %d s\n", task_id.c_str(), timeout_s);
        return 1;
    } catch (const std::exception& e) {
        std::printf("FAIL: %s\n", e.what());
        return 1;
    }
}
