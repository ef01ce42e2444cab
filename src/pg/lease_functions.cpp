// SQL entry points of the lease API (extension/sql/10_leases.sql).
#include "core/validate.hpp"
#include "pg/datum.hpp"
#include "pg/leases.hpp"

using namespace coord;
using namespace coord::pg;

namespace {

std::string_view lease_name_arg(const Args& args, int i) {
    return require_text(args.get_text(i), "name", kMaxNameBytes);
}

Token token_arg(const Args& args, int i) { return require_present(args.get_int64(i), "token"); }

}  // namespace

COORD_FUNCTION(coord_acquire) {
    Args args(fcinfo);
    auto name = lease_name_arg(args, 0);
    auto owner = require_text(args.get_text(1), "owner", kMaxOwnerBytes);
    auto ttl = require_duration(args.get_interval(2), "ttl", kMaxLeaseTtl);
    Spi spi;
    std::optional<Token> token = try_acquire(spi, name, owner, ttl);
    return token ? int64_datum(*token) : null_result(fcinfo);
}

COORD_FUNCTION(coord_renew) {
    Args args(fcinfo);
    auto name = lease_name_arg(args, 0);
    auto token = token_arg(args, 1);
    auto ttl = require_duration(args.get_interval(2), "ttl", kMaxLeaseTtl);
    Spi spi;
    return timestamptz_datum(renew(spi, name, token, ttl));
}

COORD_FUNCTION(coord_release) {
    Args args(fcinfo);
    auto name = lease_name_arg(args, 0);
    auto token = token_arg(args, 1);
    Spi spi;
    return BoolGetDatum(release(spi, name, token));
}

COORD_FUNCTION(coord_force_release) {
    Args args(fcinfo);
    auto name = lease_name_arg(args, 0);
    Spi spi;
    return BoolGetDatum(force_release(spi, name));
}

COORD_FUNCTION(coord_check_fence) {
    Args args(fcinfo);
    auto name = lease_name_arg(args, 0);
    auto token = token_arg(args, 1);
    Spi spi;
    verify_fence(spi, name, token);
    return Datum(0);
}
