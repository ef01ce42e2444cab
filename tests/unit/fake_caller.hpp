// Shared by the unit tests: a Caller (core/common/roles.hpp) with fixed
// answers, counting how often the costly questions are asked.
#pragma once

#include "core/common/roles.hpp"

#include <map>
#include <set>
#include <string>

struct FakeCaller : coord::Caller {
    explicit FakeCaller(coord::RoleId me, bool admin = false) : me(me), admin(admin) {}

    coord::RoleId role() const override { return me; }
    bool is_admin() const override {
        ++admin_asked;
        return admin;
    }
    bool has_privileges_of(coord::RoleId role) const override {
        ++privileges_asked;
        return inherits.count(role) > 0;
    }
    std::optional<std::string> role_name(coord::RoleId role) const override {
        auto it = names.find(role);
        if (it == names.end()) return std::nullopt;  // dropped
        return it->second;
    }

    coord::RoleId me;
    bool admin;
    std::set<coord::RoleId> inherits;  // roles whose privileges `me` has
    std::map<coord::RoleId, std::string> names{{10, "app"}, {20, "other"}, {30, "ops"}};
    mutable int admin_asked = 0;
    mutable int privileges_asked = 0;
};

// The roles the tests use: app holds, other is another coord_user role.
inline constexpr coord::RoleId kApp = 10;
inline constexpr coord::RoleId kOther = 20;
inline constexpr coord::RoleId kOps = 30;
