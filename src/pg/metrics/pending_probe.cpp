#include "pg/metrics/pending_probe.hpp"
#include "pg/common/datum.hpp"

namespace coord::pg::metrics {

std::vector<std::int32_t> pending_priorities(Spi& spi, std::string_view queue) {
    static Statement highest(
        "SELECT max(priority) FROM coord.tasks WHERE queue = $1 AND state = 'pending'", {TEXTOID},
        /*generic_plan=*/true);
    static Statement next_below(
        "SELECT max(priority) FROM coord.tasks WHERE queue = $1 AND state = 'pending' AND priority < $2",
        {TEXTOID, INT4OID}, /*generic_plan=*/true);
    std::vector<std::int32_t> out;
    spi.run(highest, {text_param(queue)});
    std::optional<std::int32_t> p = spi.first_row()->get_int32(1);
    while (p) {
        out.push_back(*p);
        spi.run(next_below, {text_param(queue), int32_param(*p)});
        p = spi.first_row()->get_int32(1);
    }
    return out;
}

std::int64_t pending_later(Spi& spi, std::string_view queue, const std::vector<std::int32_t>& priorities,
                           Micros now, std::int64_t limit) {
    static Statement later(
        "SELECT count(*) FROM (SELECT 1 FROM coord.tasks WHERE queue = $1 AND state = 'pending' "
        "AND priority = $2 AND run_at > $3 LIMIT $4) l",
        {TEXTOID, INT4OID, TIMESTAMPTZOID, INT8OID}, /*generic_plan=*/true);
    std::int64_t n = 0;
    for (std::int32_t p : priorities) {
        spi.run(later, {text_param(queue), int32_param(p), timestamptz_param(now), int64_param(limit)});
        n += spi.first_row()->get_int64(1).value_or(0);
    }
    return n;
}

std::optional<Micros> oldest_due(Spi& spi, std::string_view queue, const std::vector<std::int32_t>& priorities,
                                 Micros now) {
    static Statement oldest(
        "SELECT min(run_at) FROM coord.tasks WHERE queue = $1 AND state = 'pending' AND priority = $2 "
        "AND run_at <= $3",
        {TEXTOID, INT4OID, TIMESTAMPTZOID}, /*generic_plan=*/true);
    std::optional<Micros> out;
    for (std::int32_t p : priorities) {
        spi.run(oldest, {text_param(queue), int32_param(p), timestamptz_param(now)});
        std::optional<Micros> t = spi.first_row()->get_timestamptz(1);
        if (t && (!out || *t < *out)) out = t;
    }
    return out;
}

}  // namespace coord::pg::metrics
