#include "pg/registers/write_attempt.hpp"

#include "pg/common/guard.hpp"

extern "C" {
#include "utils/resowner.h"
}

namespace coord::pg {

// The pattern of PL/pgSQL's exception blocks (and of the sweep's steps).
bool attempt_write(const std::function<bool()>& attempt) {
    MemoryContext outer_context = CurrentMemoryContext;
    ResourceOwner outer_owner = CurrentResourceOwner;
    pg_call([&] {
        BeginInternalSubTransaction(nullptr);
        MemoryContextSwitchTo(outer_context);
    });
    auto end = [&](bool keep) {
        pg_call([&] {
            if (keep)
                ReleaseCurrentSubTransaction();
            else
                RollbackAndReleaseCurrentSubTransaction();
            MemoryContextSwitchTo(outer_context);
            CurrentResourceOwner = outer_owner;
        });
    };
    bool wrote = false;
    try {
        wrote = attempt();
    } catch (...) {
        end(false);
        throw;
    }
    end(wrote);
    return wrote;
}

}  // namespace coord::pg
