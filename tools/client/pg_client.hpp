// A small libpq wrapper for pg_coord's client programs (demo, scenarios,
// benchmarks). Connection settings come from the usual PG* environment
// variables (tools/cluster.sh exports them).
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace coord::client {

// A failed statement, with the server's SQLSTATE ("PC001", "40P01", ...).
class QueryError : public std::runtime_error {
public:
    QueryError(std::string sqlstate, const std::string& message)
        : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
    const std::string& sqlstate() const { return sqlstate_; }

private:
    std::string sqlstate_;
};

using Params = std::vector<std::optional<std::string>>;

class Result {
public:
    explicit Result(PGresult* result) : result_(result, &PQclear) {}
    int rows() const { return PQntuples(result_.get()); }
    std::optional<std::string> value(int row, int column) const;
    // The first row's first column; nullopt for no row or SQL NULL.
    std::optional<std::string> scalar() const { return rows() ? value(0, 0) : std::nullopt; }

private:
    std::shared_ptr<PGresult> result_;
};

class Connection {
public:
    explicit Connection(const std::string& conninfo = "");
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Runs one statement with text parameters ($1, $2, ...); throws QueryError.
    Result exec(const std::string& sql, const Params& params = {});
    PGconn* raw() { return conn_.get(); }

private:
    std::unique_ptr<PGconn, void (*)(PGconn*)> conn_;
};

}  // namespace coord::client
