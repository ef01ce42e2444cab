// Wait-to-grant latency: the time from a holder's release (its call has
// returned: the release is committed) to the next waiter's acquire returning, with 1 and 16 waiters, for
//   * coord.acquire(..., wait_for => '30 s')   (queued, woken by the release)
//   * a client loop calling coord.acquire(...) every 10 ms (what users write today)
//   * coord.acquire(..., wait_for => '30 s', durable => false) on a memory
//     holding (the same queue; the woken waiter takes the holding itself)
// measured in the same run; plus the core's cycle search on 10 000 waiters.
// Usage: wait_latency [handoffs per configuration]
#include "client/pg_client.hpp"
#include "core/waiting/wait_graph.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

using coord::client::Connection;
using Clock = std::chrono::steady_clock;

namespace {

std::int64_t now_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

struct Figures {
    double p50_ms, p99_ms;
    std::size_t samples;
    double calls_per_grant = 0;
};

Figures summarize(std::vector<std::int64_t> us) {
    std::sort(us.begin(), us.end());
    auto pick = [&](double q) {
        std::size_t i = static_cast<std::size_t>(q * static_cast<double>(us.size() - 1) + 0.5);
        return static_cast<double>(us[i]) / 1000.0;
    };
    return {pick(0.50), pick(0.99), us.size()};
}

// One configuration: `waiters` connections wait for one lease; the holder
// releases; each waiter, once granted, records the latency since the last
// release and releases at once, handing the lease to the next one.
std::atomic<long> acquire_calls{0};
// Polls refused with 53400 (a memory-lease pin limit: more than 8 transactions
// deciding a durable acquire of one name at once, issue 16): counted as a
// failed poll and retried, as a polling client would.
std::atomic<long> refused_polls{0};
std::mt19937 rng(20261128);

std::vector<std::int64_t> measure(bool polling, int waiters, int handoffs, bool memory = false) {
    const std::string kind = memory ? ", durable => false" : "";
    acquire_calls = 0;
    refused_polls = 0;
    Connection holder;
    std::vector<std::unique_ptr<Connection>> conns;
    for (int i = 0; i < waiters; ++i) conns.push_back(std::make_unique<Connection>());
    std::vector<std::int64_t> samples;
    std::mutex samples_mutex;
    int rounds = std::max(1, handoffs / waiters);
    for (int round = 0; round < rounds; ++round) {
        std::string name = std::string("bench:") + (polling ? "poll:" : memory ? "mwait:" : "wait:") +
                           std::to_string(waiters) + ":" + std::to_string(round);
        std::string token = *holder.exec("SELECT coord.acquire($1, 'holder'" + kind + ")", {name}).scalar();
        // Grants are serialized by the lease: grant k follows release k
        // (release 0 is the holder's). A grant can return before the
        // releasing client has even received its reply, so a grant waits for
        // its own release's timestamp rather than reading the latest one.
        std::vector<std::atomic<std::int64_t>> released_at(static_cast<std::size_t>(waiters) + 1);
        for (auto& t : released_at) t = 0;
        std::atomic<int> grants{0};
        std::atomic<int> started{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < waiters; ++i) {
            // Pollers that began waiting at unrelated moments: each starts at
            // its own random phase of the 10 ms period. Started together they
            // would poll in lockstep and every grant after the first would
            // wait a whole period.
            auto phase = std::chrono::microseconds(rng() % 10'000);
            threads.emplace_back([&, i, phase] {
                Connection& c = *conns[i];
                std::string owner = "w" + std::to_string(i);
                started++;
                std::optional<std::string> got;
                if (polling) {
                    std::this_thread::sleep_for(phase);
                    auto poll = [&]() -> std::optional<std::string> {
                        acquire_calls++;
                        try {
                            return c.exec("SELECT coord.acquire($1, $2)", {name, owner}).scalar();
                        } catch (const coord::client::QueryError& e) {
                            if (e.sqlstate() != "53400") throw;
                            refused_polls++;
                            return std::nullopt;
                        }
                    };
                    while (!(got = poll())) std::this_thread::sleep_for(std::chrono::milliseconds(10));
                } else {
                    acquire_calls++;
                    got = c.exec("SELECT coord.acquire($1, $2, wait_for => '30 s'" + kind + ")", {name, owner}).scalar();
                }
                std::int64_t returned_at = now_us();
                auto k = static_cast<std::size_t>(grants++);
                while (released_at[k].load() == 0) std::this_thread::yield();
                // Clamp: the grant cannot precede the release's commit, only
                // the releasing client's receipt of its reply.
                std::int64_t latency = std::max<std::int64_t>(0, returned_at - released_at[k].load());
                {
                    std::lock_guard<std::mutex> guard(samples_mutex);
                    samples.push_back(latency);
                }
                c.exec("SELECT coord.release($1, $2)", {name, *got});
                released_at[k + 1] = now_us();
            });
        }
        // Start the clock only once everybody waits.
        while (started < waiters) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (!polling) {
            while (std::stoi(*holder.exec("SELECT count(*) FROM coord.waiters WHERE name = $1", {name})
                                  .scalar()) < waiters)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        // Release at a random phase of the pollers' 10 ms period (both modes
        // alike), or the baseline would be phase-locked to the holder.
        std::this_thread::sleep_for(std::chrono::microseconds(20'000 + rng() % 10'000));
        holder.exec("SELECT coord.release($1, $2)", {name, token});
        released_at[0] = now_us();
        for (auto& t : threads) t.join();
    }
    return samples;
}

// 10 000 waiters (owners) in one chain closed into one cycle, plus a variant
// with 9 998 acyclic waits and one 2-owner cycle: build + search, median of 21.
void cycle_search_bench() {
    constexpr int n = 10'000;
    for (int variant = 0; variant < 2; ++variant) {
        std::vector<double> build_ms, search_ms;
        std::size_t cycle_length = 0;
        for (int run = 0; run < 21; ++run) {
            auto t0 = Clock::now();
            coord::WaitGraph g;
            for (int i = 0; i < n; ++i) {
                int to = variant == 0 ? (i + 1) % n : (i < n - 2 ? i + 1 : (i == n - 2 ? n - 1 : n - 2));
                g.add_edge({"owner-" + std::to_string(i), "lease-" + std::to_string(i),
                            "owner-" + std::to_string(to), coord::WaitEdge::Kind::held,
                            static_cast<std::uint64_t>(i + 1), 0, {}, {}});
            }
            (void)g.node_count();  // builds the index
            auto t1 = Clock::now();
            auto cycle = g.find_cycle_through("owner-" + std::to_string(n - 1));
            auto victim = coord::choose_victim(*cycle);
            auto t2 = Clock::now();
            cycle_length = cycle->edges.size();
            (void)victim;
            build_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
            search_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
        }
        std::sort(build_ms.begin(), build_ms.end());
        std::sort(search_ms.begin(), search_ms.end());
        std::printf("cycle search, %d waiters, one cycle of %zu: search %.3f ms (graph build %.3f ms), median of 21\n",
                    n, cycle_length, search_ms[10], build_ms[10]);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int handoffs = argc > 1 ? std::atoi(argv[1]) : 320;
    try {
        Connection setup;
        setup.exec("CREATE EXTENSION IF NOT EXISTS pg_coord");
        std::printf("wait-to-grant latency (release -> next waiter's acquire returns), %d handoffs each\n",
                    handoffs);
        std::printf("%-8s %-26s %10s %10s\n", "waiters", "method", "p50 ms", "p99 ms");
        bool target_met = true;
        for (int waiters : {1, 16}) {
            Figures wait = summarize(measure(false, waiters, handoffs));
            wait.calls_per_grant = static_cast<double>(acquire_calls) / static_cast<double>(wait.samples);
            Figures poll = summarize(measure(true, waiters, handoffs));
            poll.calls_per_grant = static_cast<double>(acquire_calls) / static_cast<double>(poll.samples);
            std::printf("%-8d %-26s %10.3f %10.3f %8.1f acquire calls per grant\n", waiters,
                        "acquire(wait_for)", wait.p50_ms, wait.p99_ms, wait.calls_per_grant);
            std::printf("%-8d %-26s %10.3f %10.3f %8.1f acquire calls per grant\n", waiters,
                        "poll acquire every 10 ms", poll.p50_ms, poll.p99_ms, poll.calls_per_grant);
            if (refused_polls > 0)
                std::printf("%-8d polls refused with 53400 (memory-lease pin limit, issue 16), retried: %ld\n",
                            waiters, refused_polls.load());
            Figures mem = summarize(measure(false, waiters, handoffs, true));
            mem.calls_per_grant = static_cast<double>(acquire_calls) / static_cast<double>(mem.samples);
            std::printf("%-8d %-26s %10.3f %10.3f %8.1f acquire calls per grant\n", waiters,
                        "memory acquire(wait_for)", mem.p50_ms, mem.p99_ms, mem.calls_per_grant);
            double ratio = wait.p50_ms / poll.p50_ms;
            if (wait.p50_ms > 2.0) target_met = false;
            std::printf("%-8d p50 ratio wait/poll = %.3f (target <= 0.2), poll/wait = %.1fx; p99 poll/wait = %.1fx\n",
                        waiters, ratio, poll.p50_ms / wait.p50_ms, poll.p99_ms / wait.p99_ms);
            if (ratio > 0.2) target_met = false;
        }
        cycle_search_bench();
        std::printf("target p50 <= 1/5 of polling (<= 2 ms): %s\n", target_met ? "met" : "NOT met");
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wait_latency: %s\n", e.what());
        return 1;
    }
}
