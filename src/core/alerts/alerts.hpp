// Alert rules: given the subjects of one kind's open alerts and the subjects
// firing now, which alerts to raise and which to resolve. One open alert per
// (kind, subject): a condition that keeps firing raises nothing new (no
// flood); a condition that ends resolves its alert; one that fires again
// later raises a new alert.
#pragma once
#include "core/common/cpp_only.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace coord {

// Documented limits (README, "Background worker and alerts").
inline constexpr std::size_t kMaxAlertKindBytes = 64;
inline constexpr std::size_t kMaxAlertSubjectBytes = 512;

struct AlertPlan {
    // Indexes into `firing` of the subjects to raise, in `firing` order,
    // each subject once (a subject listed twice is raised once).
    std::vector<std::size_t> raise;
    // Open subjects that no longer fire, in `open` order.
    std::vector<std::string> resolve;
};

// Throws Error(22004/22023) for an empty or over-long kind or subject.
AlertPlan plan_alerts(std::string_view kind, const std::vector<std::string>& open,
                      const std::vector<std::string_view>& firing);

}  // namespace coord
