#include "core/alerts/alerts.hpp"

#include "core/common/validate.hpp"

#include <unordered_set>

namespace coord {

AlertPlan plan_alerts(std::string_view kind, const std::vector<std::string>& open,
                      const std::vector<std::string_view>& firing) {
    require_text(kind, "alert kind", kMaxAlertKindBytes);
    for (std::string_view subject : firing) require_text(subject, "alert subject", kMaxAlertSubjectBytes);

    std::unordered_set<std::string_view> open_set(open.begin(), open.end());
    std::unordered_set<std::string_view> firing_set(firing.begin(), firing.end());

    AlertPlan plan;
    std::unordered_set<std::string_view> raised;
    for (std::size_t i = 0; i < firing.size(); ++i)
        if (!open_set.count(firing[i]) && raised.insert(firing[i]).second) plan.raise.push_back(i);
    for (const std::string& subject : open)
        if (!firing_set.count(subject)) plan.resolve.push_back(subject);
    return plan;
}

}  // namespace coord
