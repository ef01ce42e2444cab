// Alerts in coord.alerts, kept equal to what a sweep step finds firing.
// The decision (what to raise, what to resolve) is core/alerts.hpp.
#pragma once

#include "pg/common/spi.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace coord::pg {

struct FiringAlert {
    std::string subject;      // e.g. the lease name or task id
    std::string detail_json;  // a JSON object; empty means {}
};

// Makes the open alerts of `kind` equal to `firing`: raises the new ones
// (a row in coord.alerts, NOTIFY coord_alerts with a JSON payload of
// event, id, kind and times only -- any role may LISTEN --, a LOG line; one
// open alert per (kind, subject)) and resolves those no longer
// firing (resolved_at set, NOTIFY and LOG as well). Runs in the caller's
// transaction: the NOTIFY is delivered when it commits.
void sync_alerts(Spi& spi, std::string_view kind, const std::vector<FiringAlert>& firing);

// What the last sync_alerts call did (for the sweep's counts).
struct AlertSyncCounts {
    std::int64_t raised = 0;
    std::int64_t resolved = 0;
};
AlertSyncCounts sync_alerts_counted(Spi& spi, std::string_view kind,
                                    const std::vector<FiringAlert>& firing);

}  // namespace coord::pg
