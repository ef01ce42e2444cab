// Bad input, fuzzed (issue 14, test 6). Calls every function of schema coord,
// found from pg_proc (a new function is covered without editing this file),
// once per (argument, bad value of that argument's type), every other
// argument a valid value (fixtures from tests/faults/fuzz/context.sql, kept
// current before every case). Each call is one autocommit statement, as a
// client makes it. A case passes when:
//   * the call succeeds, or fails with a SQLSTATE the README documents
//     (passed in FUZZ_SQLSTATES; any SQLSTATE for an internal function,
//     one granted to no role, not even coord_admin), or, for a value PostgreSQL itself refuses
//     before the call (invalid UTF-8, an interval PostgreSQL 15 cannot
//     represent), with exactly that input error;
//   * the postmaster's pid is unchanged and the connection is alive;
//   * the server log (FUZZ_SERVER_LOG) got no "terminated by signal" line;
//   * when it failed, the checksum of every coord table is unchanged.
// Prints the cases run and failed, and the outcomes by SQLSTATE.
// Usage: coord_fuzz   (PG* environment; FUZZ_SQLSTATES="22004 22023 ...",
//                      FUZZ_SERVER_LOG=path; FUZZ_VERBOSE=1 lists every case)
#include "client/pg_client.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using coord::client::Connection;
using coord::client::Params;
using coord::client::QueryError;

namespace {

struct Value {
    std::string label;
    std::optional<std::string> text;  // nullopt: SQL NULL
    std::string input_error;          // PostgreSQL refuses it before the call (its SQLSTATE)
};

struct Function {
    std::string signature;  // regprocedure text
    std::string name;
    char kind;  // 'f' or 'p'
    std::vector<std::string> arg_names, arg_types;
    bool internal = false;  // executable by no role but a superuser (not even coord_admin)
};

std::string repeat(const std::string& s, std::size_t n) {
    std::string out;
    out.reserve(s.size() * n);
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

// Bad and boundary values per argument type (format_type names).
std::vector<Value> text_values() {
    const std::string e_acute = "\xc3\xa9";        // é, 2 bytes
    const std::string emoji = "\xf0\x9f\x98\x80";  // U+1F600, 4 bytes
    return {
        {"NULL", std::nullopt, ""},
        {"empty", std::string(), ""},
        {"one space", std::string(" "), ""},
        {"64 KB", std::string(64 * 1024, 'x'), ""},
        {"1 MB", std::string(1024 * 1024, 'x'), ""},
        {"256 bytes", std::string(256, 'n'), ""},
        {"257 bytes", std::string(257, 'n'), ""},
        {"254 bytes + 2-byte char (256 B)", std::string(254, 'n') + e_acute, ""},
        {"255 bytes + 2-byte char (257 B)", std::string(255, 'n') + e_acute, ""},
        {"252 bytes + 4-byte char (256 B)", std::string(252, 'n') + emoji, ""},
        {"253 bytes + 4-byte char (257 B)", std::string(253, 'n') + emoji, ""},
        {"128 x 2-byte chars (256 B)", repeat(e_acute, 128), ""},
        {"129 x 2-byte chars (258 B)", repeat(e_acute, 129), ""},
        {"single quote", std::string("'"), ""},
        {"SQL injection", std::string("x'); DROP TABLE coord.lease_state; --"), ""},
        {"double quotes", std::string("\"x\""), ""},
        {"backslashes", std::string("\\\\x\\"), ""},
        {"newlines", std::string("a\nb\r\nc"), ""},
        {"tab and control chars", std::string("\t\x01\x1f\x7f"), ""},
        {"LIKE wildcards", std::string("%_%"), ""},
        {"printf format", std::string("%s%n%x{}{0}"), ""},
        {"string NULL", std::string("NULL"), ""},
        {"decomposed e + U+0301", std::string("e\xcc\x81"), ""},
        {"right-to-left override", std::string("a\xe2\x80\xae" "b"), ""},
        {"zero-width space", std::string("\xe2\x80\x8b"), ""},
        {"BOM", std::string("\xef\xbb\xbf" "x"), ""},
        {"U+FFFF", std::string("\xef\xbf\xbf"), ""},
        {"U+10FFFF", std::string("\xf4\x8f\xbf\xbf"), ""},
        {"invalid UTF-8 0xff", std::string("\xff"), "22021"},
        {"truncated 2-byte char", std::string("x\xc3"), "22021"},
        {"UTF-16 surrogate", std::string("\xed\xa0\x80"), "22021"},
        {"overlong '/'", std::string("\xc0\xaf"), "22021"},
        {"255 bytes + truncated char", std::string(255, 'n') + "\xc3", "22021"},
    };
}

std::vector<Value> bigint_values() {
    return {
        {"NULL", std::nullopt, ""},
        {"0", std::string("0"), ""},
        {"-1", std::string("-1"), ""},
        {"1", std::string("1"), ""},
        {"bigint min", std::string("-9223372036854775808"), ""},
        {"bigint max", std::string("9223372036854775807"), ""},
        {"bigint max - 1", std::string("9223372036854775806"), ""},
        {"2^47 - 1 (counter end)", std::string("140737488355327"), ""},
        {"2^47", std::string("140737488355328"), ""},
        {"2^63 (overflows)", std::string("9223372036854775808"), "22003"},
    };
}

std::vector<Value> integer_values() {
    return {
        {"NULL", std::nullopt, ""},
        {"0", std::string("0"), ""},
        {"-1", std::string("-1"), ""},
        {"int min", std::string("-2147483648"), ""},
        {"int max", std::string("2147483647"), ""},
        {"1000000", std::string("1000000"), ""},
    };
}

std::vector<Value> interval_values() {
    return {
        {"NULL", std::nullopt, ""},
        {"zero", std::string("0"), ""},
        {"1 microsecond", std::string("1 microsecond"), ""},
        {"-1 microsecond", std::string("-1 microsecond"), ""},
        {"-1 hour", std::string("-1 hour"), ""},
        {"30 days + 1 us", std::string("30 days 00:00:00.000001"), ""},
        {"1 month", std::string("1 mon"), ""},
        {"178000000 years", std::string("178000000 years"), ""},
        {"-178000000 years", std::string("-178000000 years"), ""},
        {"int max days", std::string("2147483647 days"), ""},
        {"int min days", std::string("-2147483648 days"), ""},
        {"max hours", std::string("2562047788:00:54.775807"), ""},
        {"min hours", std::string("-2562047788:00:54.775807"), ""},
        {"all fields max (overflows as microseconds)",
         std::string("2147483647 mons 2147483647 days 2562047788:00:54.775807"), ""},
        {"all fields min", std::string("-2147483648 mons -2147483648 days -2562047788:00:54.775807"), ""},
        {"mixed signs", std::string("1 mon -30 days 1 microsecond"), ""},
        // PostgreSQL 15 has no infinite interval (17 does): refused as input.
        {"infinity", std::string("infinity"), "22007"},
        {"beyond max hours", std::string("2562047789 hours"), "22015"},
    };
}

std::vector<Value> numeric_values() {
    return {
        {"NULL", std::nullopt, ""},
        {"0", std::string("0"), ""},
        {"-0", std::string("-0"), ""},
        {"-0.000", std::string("-0.000"), ""},
        {"NaN", std::string("NaN"), ""},
        {"Infinity", std::string("Infinity"), ""},
        {"-Infinity", std::string("-Infinity"), ""},
        {"-1", std::string("-1"), ""},
        {"0.001", std::string("0.001"), ""},
        {"1e-1000", std::string("1e-1000"), ""},
        {"1e131071", std::string("1e131071"), ""},
        {"-1e131071", std::string("-1e131071"), ""},
        {"38 nines", std::string(38, '9'), ""},
        {"1e131072 (overflows)", std::string("1e131072"), "22003"},
    };
}

std::vector<Value> jsonb_values() {
    std::string big_object = "{";
    for (int i = 0; i < 40000; ++i) big_object += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"vvvvvvvvvvvvvvv\"";
    big_object += "}";  // ~1 MB
    return {
        {"NULL", std::nullopt, ""},
        {"json null", std::string("null"), ""},
        {"empty object", std::string("{}"), ""},
        {"empty array", std::string("[]"), ""},
        {"string", std::string("\"x\""), ""},
        {"number", std::string("0"), ""},
        {"huge number", std::string("1e1000"), ""},
        {"true", std::string("true"), ""},
        {"64 KB string", "\"" + std::string(64 * 1024, 'x') + "\"", ""},
        {"1 MB object", big_object, ""},
        {"nested 1000 deep", repeat("[", 1000) + repeat("]", 1000), ""},
        {"multibyte and escapes", std::string("{\"\xc3\xa9\": \"\\n\\\"\\\\\\u00e9\"}"), ""},
        {"\\u0000 (refused by jsonb)", std::string("\"\\u0000\""), "22P05"},
    };
}

std::vector<Value> timestamptz_values() {
    return {
        {"NULL", std::nullopt, ""},
        {"infinity", std::string("infinity"), ""},
        {"-infinity", std::string("-infinity"), ""},
        {"epoch", std::string("epoch"), ""},
        {"one hour ago", std::string("now"), ""},  // replaced by now() - 1 hour below
        {"max", std::string("294276-12-31 23:59:59.999999+00"), ""},
        {"min", std::string("4714-11-24 00:00:00+00 BC"), ""},
        {"beyond max", std::string("294277-01-01 00:00:00+00"), "22008"},
    };
}

std::vector<Value> text_array_values() {
    std::string many = "{";
    for (int i = 0; i < 10000; ++i) many += (i ? ",n" : "n") + std::to_string(i);
    many += "}";
    return {
        {"NULL", std::nullopt, ""},
        {"empty array", std::string("{}"), ""},
        {"NULL element", std::string("{NULL}"), ""},
        {"empty element", std::string("{\"\"}"), ""},
        {"duplicates", std::string("{fuzz:all1,fuzz:all1}"), ""},
        {"10000 elements", many, ""},
        {"64 KB element", "{" + std::string(64 * 1024, 'x') + "}", ""},
        {"2-D array", std::string("{{a,b},{c,d}}"), ""},
        {"quoted element", std::string("{\"x\\\"y\",\"a,b\"}"), ""},
        {"lower bound 0", std::string("[0:1]={a,b}"), ""},
    };
}

std::vector<Value> boolean_values() {
    return {{"NULL", std::nullopt, ""}, {"true", std::string("true"), ""}, {"false", std::string("false"), ""}};
}

std::vector<Value> bytea_values() {
    return {{"NULL", std::nullopt, ""},
            {"empty", std::string("\\x"), ""},
            {"1 MB", "\\x" + std::string(2 * 1024 * 1024, '0'), ""},
            // byteain refuses a bad hex digit with 22023 (invalid_parameter_value), not 22P02.
            {"invalid hex", std::string("\\xz"), "22023"}};
}

std::vector<Value> values_for(const std::string& type) {
    if (type == "text" || type == "character varying" || type == "name") return text_values();
    if (type == "bigint") return bigint_values();
    if (type == "integer" || type == "smallint") return integer_values();
    if (type == "interval") return interval_values();
    if (type == "numeric") return numeric_values();
    if (type == "jsonb" || type == "json") return jsonb_values();
    if (type == "timestamp with time zone") return timestamptz_values();
    if (type == "text[]") return text_array_values();
    if (type == "boolean") return boolean_values();
    if (type == "bytea") return bytea_values();
    return {{"NULL", std::nullopt, ""}};  // an unknown type: NULL only (reported)
}

struct Context {
    std::map<std::string, std::optional<std::string>> v;
    std::string checksum, postmaster_pid;
};

// A valid value for argument `name` of function `fn`: a fixture where the
// argument names one, else one per type.
std::optional<std::string> valid_value(const Function& fn, const std::string& name,
                                       const std::string& type, const Context& ctx) {
    auto c = [&](const char* key) { return ctx.v.at(key); };
    bool task_fn = false;
    for (auto& a : fn.arg_names) task_fn = task_fn || a == "task_id";
    if (name == "token") return task_fn ? c("task_token") : c("lease_token");
    if (name == "task_id") return fn.name == "retry_dead" ? c("dead_task_id") : c("task_id");
    if (name == "name") return std::string("fuzz:lease");
    if (name == "names") return std::string("{fuzz:all1,fuzz:all2}");
    if (name == "owner") return std::string("fuzz-owner");
    if (name == "wait_for") return std::string("0");
    if (name == "ttl") return std::string("1 hour");
    if (name == "retry_in" || name == "run_at" || name == "result" || name == "value" ||
        name == "min_version" || name == "known_term" || name == "external_ref" ||
        name == "idempotency_key" || name == "dedupe_key" || name == "fence_name" ||
        name == "fence_token")
        return std::nullopt;  // their defaults
    if (name == "entry_id") return c("entry_id");
    if (name == "status") return std::string("settled");
    if (name == "cycle_id") return std::string("fuzz-cycle");
    if (name == "account") return std::string("fuzz-account");
    if (name == "amount") return std::string(fn.name == "bid" ? "1" : "1.00");
    if (name == "currency") return std::string("USD");
    if (name == "queue") return std::string("fuzz-queue");
    if (name == "payload" || name == "new_value") return std::string("{\"k\": 1}");
    if (name == "priority") return std::string("0");
    if (name == "max_attempts") return std::string("5");
    if (name == "worker") return std::string("fuzz-worker");
    if (name == "batch") return std::string("1");
    if (name == "error") return std::string("fuzz error");
    if (name == "shard") return c("shard");
    if (name == "node") return std::string("fuzz-node");
    if (name == "target") return std::string("fuzz-node2");
    if (name == "migration_id") return c("migration_id");
    if (name == "phase") return std::string("dual_write");
    if (name == "version") return std::string("1");
    if (name == "epoch") return c("epoch");
    if (name == "election") return std::string("fuzz-election");
    if (name == "candidate") return std::string("fuzz-cand");
    if (name == "term") return c("term");
    if (name == "key") return std::string("fuzz-key");
    if (name == "expected_version") return c("reg_version");
    if (name == "auction") return c("auction");
    if (name == "closes_at") return std::string("2100-01-01 00:00:00+00");
    if (name == "reserve") return std::string("0");
    if (name == "bidder") return std::string("fuzz-bidder");
    if (name == "last") return std::string("0");
    // Any other argument: a plain value of its type.
    if (type == "text") return std::string("fuzz");
    if (type == "bigint" || type == "integer" || type == "smallint" || type == "numeric")
        return std::string("1");
    if (type == "interval") return std::string("1 second");
    if (type == "jsonb" || type == "json") return std::string("{}");
    if (type == "timestamp with time zone") return std::string("2100-01-01 00:00:00+00");
    if (type == "text[]") return std::string("{fuzz}");
    if (type == "boolean") return std::string("true");
    return std::nullopt;
}

class LogWatch {
public:
    explicit LogWatch(std::string path) : path_(std::move(path)) { (void)fresh(); }
    // The log lines written since the last call that say a process died.
    std::string fresh() {
        std::ifstream in(path_, std::ios::binary);
        if (!in) return "";
        in.seekg(0, std::ios::end);
        std::streamoff end = in.tellg();
        if (end < offset_) offset_ = 0;
        in.seekg(offset_);
        std::string chunk(static_cast<std::size_t>(end - offset_), '\0');
        in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        offset_ = end;
        std::string found;
        std::istringstream lines(chunk);
        for (std::string line; std::getline(lines, line);)
            if (line.find("terminated by signal") != std::string::npos ||
                line.find("was terminated by exception") != std::string::npos)
                found += line + "\n";
        return found;
    }

private:
    std::string path_;
    std::streamoff offset_ = 0;
};

std::unique_ptr<Connection> connect() {
    for (int attempt = 0;; ++attempt) {
        try {
            auto c = std::make_unique<Connection>();
            c->exec("SET statement_timeout = '10s'");
            c->exec("SET client_min_messages = error");
            return c;
        } catch (const QueryError&) {
            if (attempt > 300) throw;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
}

Context prepare(Connection& c) {
    static const char* const keys[] = {"lease_token", "task_id", "task_token", "dead_task_id",
                                       "entry_id", "shard", "migration_id", "epoch", "term",
                                       "reg_version", "auction", "closes_at", "checksum",
                                       "postmaster_pid"};
    auto r = c.exec("SELECT * FROM fuzz_ctx.prepare()");
    Context ctx;
    for (int i = 0; i < 14; ++i) ctx.v[keys[i]] = r.value(0, i);
    ctx.checksum = ctx.v["checksum"].value_or("");
    ctx.postmaster_pid = ctx.v["postmaster_pid"].value_or("");
    return ctx;
}

}  // namespace

int main() {
    std::set<std::string> documented;
    {
        std::istringstream in(std::getenv("FUZZ_SQLSTATES") ? std::getenv("FUZZ_SQLSTATES") : "");
        for (std::string s; in >> s;) documented.insert(s);
    }
    if (documented.empty()) {
        std::fprintf(stderr, "FUZZ_SQLSTATES is empty\n");
        return 2;
    }
    LogWatch log(std::getenv("FUZZ_SERVER_LOG") ? std::getenv("FUZZ_SERVER_LOG") : "");
    auto conn = connect();

    std::vector<Function> functions;
    auto catalog = conn->exec(R"(
        SELECT p.oid::regprocedure::text, p.proname, p.prokind,
               coalesce(array_to_string(ARRAY(
                   SELECT coalesce(n, '') FROM unnest(coalesce(p.proargnames, array_fill(''::text, ARRAY[p.pronargs])),
                                                      coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[p.pronargs])))
                                             AS a(n, m)
                   WHERE m IN ('i', 'b', 'v')), chr(1)), ''),
               coalesce(array_to_string(ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t), chr(1)), ''),
               NOT has_function_privilege('coord_admin', p.oid, 'EXECUTE')
        FROM pg_proc p
        WHERE p.pronamespace = 'coord'::regnamespace AND p.prokind IN ('f', 'p')
        ORDER BY p.proname, p.oid)");
    auto split = [](const std::string& s) {
        std::vector<std::string> out;
        if (s.empty()) return out;
        std::string cur;
        for (char ch : s) {
            if (ch == '\x01') { out.push_back(cur); cur.clear(); } else cur += ch;
        }
        out.push_back(cur);
        return out;
    };
    for (int i = 0; i < catalog.rows(); ++i) {
        Function f{*catalog.value(i, 0), *catalog.value(i, 1), (*catalog.value(i, 2))[0],
                   split(*catalog.value(i, 3)), split(*catalog.value(i, 4))};
        f.arg_names.resize(f.arg_types.size());
        f.internal = catalog.value(i, 5) == std::optional<std::string>("t");
        functions.push_back(f);
    }

    long cases = 0, failed = 0, arguments = 0;
    std::map<std::string, long> outcomes;
    std::set<std::string> unknown_types;
    std::multimap<double, std::string> slowest;  // the 5 slowest calls
    auto start = std::chrono::steady_clock::now();
    const std::string expected_pid = prepare(*conn).postmaster_pid;
    Context ctx;
    bool ctx_valid = false;
    const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;  // every case and its outcome

    for (const auto& fn : functions) {
        std::string call = std::string(fn.kind == 'p' ? "CALL " : "SELECT * FROM ") + "coord." + fn.name + "(";
        for (std::size_t a = 0; a < fn.arg_types.size(); ++a)
            call += (a ? ", $" : "$") + std::to_string(a + 1) + "::" + fn.arg_types[a];
        call += ")";
        arguments += static_cast<long>(fn.arg_types.size());
        // (argument index, value); index -1: all arguments valid.
        std::vector<std::pair<int, Value>> plan{{-1, Value{"all valid", std::nullopt, ""}}};
        for (std::size_t a = 0; a < fn.arg_types.size(); ++a) {
            auto vals = values_for(fn.arg_types[a]);
            if (vals.size() == 1) unknown_types.insert(fn.arg_types[a]);
            for (auto& v : vals) plan.emplace_back(static_cast<int>(a), v);
        }
        for (auto& [index, value] : plan) {
            ++cases;
            std::string what = fn.signature + (index < 0 ? std::string(" [all valid]")
                                                         : " " + fn.arg_names[index] + " = " + value.label);
            std::string problem;
            // A failed call changed nothing (checked below): the fixtures and
            // the checksum are still those of the last preparation.
            if (!ctx_valid) {
                try {
                    ctx = prepare(*conn);
                    ctx_valid = true;
                } catch (const QueryError& e) {
                    std::printf("FAILED %s: the fixtures could not be prepared: %s", what.c_str(), e.what());
                    ++failed;
                    conn = connect();
                    continue;
                }
            }
            ctx_valid = false;
            Params params;
            for (std::size_t a = 0; a < fn.arg_types.size(); ++a) {
                if (static_cast<int>(a) == index) {
                    auto t = value.text;
                    if (t && *t == "now" && fn.arg_types[a] == "timestamp with time zone")
                        t = *conn->exec("SELECT (now() - interval '1 hour')::text").scalar();
                    params.push_back(t);
                } else {
                    params.push_back(valid_value(fn, fn.arg_names[a], fn.arg_types[a], ctx));
                }
            }
            std::string outcome;
            bool errored = false;
            auto call_start = std::chrono::steady_clock::now();
            try {
                conn->exec(call, params);
                outcome = "ok";
            } catch (const QueryError& e) {
                errored = true;
                outcome = e.sqlstate();
                if (PQstatus(conn->raw()) != CONNECTION_OK) {
                    problem = "the connection died: " + std::string(e.what());
                } else if (!value.input_error.empty()) {
                    if (outcome != value.input_error)
                        problem = "expected PostgreSQL's input error " + value.input_error + ", got " +
                                  outcome + ": " + e.what();
                } else if (outcome == "57014") {
                    problem = "did not return within statement_timeout (10 s)";
                } else if (!documented.count(outcome) && !fn.internal) {
                    problem = "undocumented SQLSTATE " + outcome + ": " + e.what();
                }
            }
            if (outcome == "ok" && !value.input_error.empty())
                problem = "PostgreSQL accepted a value it should refuse (" + value.input_error + ")";
            ++outcomes[outcome];
            slowest.emplace(std::chrono::duration<double>(std::chrono::steady_clock::now() - call_start).count(),
                            what + " -> " + outcome);
            if (slowest.size() > 5) slowest.erase(slowest.begin());
            if (problem.empty() || PQstatus(conn->raw()) == CONNECTION_OK) {
                try {
                    if (PQstatus(conn->raw()) != CONNECTION_OK) conn = connect();
                    auto after = conn->exec(
                        "SELECT fault_check.checksum(), split_part(pg_read_file('postmaster.pid'), E'\\n', 1)");
                    if (*after.value(0, 1) != expected_pid)
                        problem += " postmaster pid changed (" + expected_pid + " -> " + *after.value(0, 1) + ")";
                    if (errored && *after.value(0, 0) != ctx.checksum)
                        problem += " the call failed but a coord table changed";
                    else if (errored && problem.empty())
                        ctx_valid = true;
                } catch (const QueryError& e) {
                    problem += std::string(" the check after the call failed: ") + e.what();
                }
            }
            std::string died = log.fresh();
            if (!died.empty()) problem += " server log: " + died;
            if (verbose) std::printf("case %s -> %s\n", what.c_str(), outcome.c_str());
            if (!problem.empty()) {
                ++failed;
                std::printf("FAILED %s: %s\n", what.c_str(), problem.c_str());
                if (PQstatus(conn->raw()) != CONNECTION_OK) conn = connect();
            }
        }
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::string by_state;
    for (auto& [state, n] : outcomes) by_state += " " + state + ":" + std::to_string(n);
    for (auto& t : unknown_types) std::printf("note: type %s has no bad values here, only NULL\n", t.c_str());
    long internal = 0;
    for (const auto& fn : functions) internal += fn.internal ? 1 : 0;
    std::printf("fuzz: %zu functions of schema coord (%ld arguments), %ld cases in %.1f s, %ld failed\n",
                functions.size(), arguments, cases, seconds, failed);
    std::printf("fuzz: %ld of them internal (granted to no role; their callers validate): any SQLSTATE, "
                "the other checks as for all\n", internal);
    std::printf("fuzz: outcomes by SQLSTATE:%s\n", by_state.c_str());
    for (auto it = slowest.rbegin(); it != slowest.rend(); ++it)
        std::printf("fuzz: slowest: %.3f s %s\n", it->first, it->second.c_str());
    return failed == 0 ? 0 : 1;
}
