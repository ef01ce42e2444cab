#include "client/pg_client.hpp"

namespace coord::client {

std::optional<std::string> Result::value(int row, int column) const {
    if (PQgetisnull(result_.get(), row, column)) return std::nullopt;
    return std::string(PQgetvalue(result_.get(), row, column));
}

Connection::Connection(const std::string& conninfo)
    : conn_(PQconnectdb(conninfo.c_str()), &PQfinish) {
    if (PQstatus(conn_.get()) != CONNECTION_OK)
        throw QueryError("08001", std::string("connection failed: ") + PQerrorMessage(conn_.get()));
}

Result Connection::exec(const std::string& sql, const Params& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    PGresult* raw = PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()),
                                 nullptr, values.data(), nullptr, nullptr, 0);
    Result result(raw);
    ExecStatusType status = PQresultStatus(raw);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
    const char* sqlstate = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
    throw QueryError(sqlstate ? sqlstate : "08006",
                     raw ? PQresultErrorMessage(raw) : PQerrorMessage(conn_.get()));
}

}  // namespace coord::client
