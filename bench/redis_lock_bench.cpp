// Driver of bench/leases/run: the Redis lock a user would write instead of a
// memory lease: SET name owner NX PX ttl, then the compare-and-delete release
// as a Lua script (EVALSHA, loaded once per connection: Redis's prepared
// statement). One connection and one thread per client, as pgbench -c N -j N.
//   redis_lock_bench HOST:PORT|SOCKET_PATH CLIENTS NAMES SECONDS  -> "cycles/s"
// A cycle is one acquire attempt and, when it got the lock, its release; on a
// busy name the cycle ends after the SET, as bench/leases/memory.sql's does
// after the acquire that answered NULL.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

const char* kRelease =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end";

class Redis {
public:
    explicit Redis(const std::string& where) {
        auto colon = where.rfind(':');
        if (where.find('/') != std::string::npos || colon == std::string::npos) {
            fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
            sockaddr_un addr{};
            addr.sun_family = AF_UNIX;
            std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", where.c_str());
            if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
                throw std::runtime_error("cannot connect to " + where);
        } else {
            fd_ = socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(static_cast<uint16_t>(std::atoi(where.c_str() + colon + 1)));
            inet_pton(AF_INET, where.substr(0, colon).c_str(), &addr.sin_addr);
            if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
                throw std::runtime_error("cannot connect to " + where);
            int one = 1;
            setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
    }
    ~Redis() { close(fd_); }

    // Sends one command; returns the reply's first line without its type
    // byte, and the type in *type (a bulk string's body is read as well).
    std::string call(const std::vector<std::string>& args, char* type) {
        std::string out = "*" + std::to_string(args.size()) + "\r\n";
        for (const std::string& a : args)
            out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
        for (std::size_t sent = 0; sent < out.size();) {
            ssize_t n = write(fd_, out.data() + sent, out.size() - sent);
            if (n <= 0) throw std::runtime_error("write failed");
            sent += static_cast<std::size_t>(n);
        }
        std::string line = read_line();
        *type = line.empty() ? '?' : line[0];
        std::string rest = line.substr(1);
        if (*type == '-') throw std::runtime_error("redis: " + rest);
        if (*type == '$') {
            long len = std::atol(rest.c_str());
            if (len < 0) return std::string();
            std::string body = read_exact(static_cast<std::size_t>(len) + 2);
            return body.substr(0, static_cast<std::size_t>(len));
        }
        return rest;
    }

private:
    int fd_;
    std::string buf_;
    std::size_t pos_ = 0;

    void fill() {
        if (pos_ > 0) {
            buf_.erase(0, pos_);
            pos_ = 0;
        }
        char chunk[4096];
        ssize_t n = read(fd_, chunk, sizeof(chunk));
        if (n <= 0) throw std::runtime_error("read failed");
        buf_.append(chunk, static_cast<std::size_t>(n));
    }
    std::string read_line() {
        for (;;) {
            std::size_t end = buf_.find("\r\n", pos_);
            if (end != std::string::npos) {
                std::string line = buf_.substr(pos_, end - pos_);
                pos_ = end + 2;
                return line;
            }
            fill();
        }
    }
    std::string read_exact(std::size_t n) {
        while (buf_.size() - pos_ < n) fill();
        std::string s = buf_.substr(pos_, n);
        pos_ += n;
        return s;
    }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s HOST:PORT|SOCKET CLIENTS NAMES SECONDS\n", argv[0]);
        return 2;
    }
    std::string where = argv[1];
    int clients = std::atoi(argv[2]);
    int names = std::atoi(argv[3]);
    double seconds = std::atof(argv[4]);
    std::atomic<bool> stop{false};
    std::atomic<long> cycles{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    Clock::time_point start = Clock::now();
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            try {
                Redis r(where);
                char type;
                std::string sha = r.call({"SCRIPT", "LOAD", kRelease}, &type);
                std::string owner = "client-" + std::to_string(c);
                std::mt19937 rng(static_cast<unsigned>(c) * 7919u + 1u);
                std::uniform_int_distribution<int> pick(1, names);
                long done = 0;
                while (!stop.load(std::memory_order_relaxed)) {
                    std::string key = "bench:" + std::to_string(pick(rng));
                    std::string got = r.call({"SET", key, owner, "NX", "PX", "60000"}, &type);
                    if (type == '+' && got == "OK") r.call({"EVALSHA", sha, "1", key, owner}, &type);
                    ++done;
                }
                cycles += done;
            } catch (const std::exception& e) {
                std::fprintf(stderr, "client %d: %s\n", c, e.what());
                ++failed;
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (std::thread& t : threads) t.join();
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (failed > 0) return 1;
    std::printf("%.0f\n", static_cast<double>(cycles.load()) / elapsed);
    return 0;
}
