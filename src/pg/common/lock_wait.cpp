#include "pg/common/lock_wait.hpp"
#include "pg/common/subtransaction.hpp"

extern "C" {
#include "storage/proc.h"
#include "utils/errcodes.h"
}

#include <algorithm>
#include <string>

namespace coord::pg {

bool with_lock_wait_limit(Micros limit, const std::function<void()>& body) {
    // LockTimeout: the session's lock_timeout in ms, 0 when none is set.
    long limit_ms = std::max<long>(1, static_cast<long>(limit / 1000));
    if (LockTimeout > 0) limit_ms = std::min<long>(limit_ms, LockTimeout);
    std::string limit_text = std::to_string(limit_ms);
    const char* limit_value = limit_text.c_str();
    try {
        SubTransaction sub;
        // Undone by AtEOXact_GUC below, or by the subtransaction's abort (as
        // a function's SET clause is).
        int nest_level = pg_call([&] {
            int level = NewGUCNestLevel();
            (void)set_config_option("lock_timeout", limit_value, PGC_USERSET, PGC_S_SESSION,
                                    GUC_ACTION_SAVE, true, 0, false);
            return level;
        });
        body();
        pg_call([&] { AtEOXact_GUC(true, nest_level); });
        sub.commit();
        return true;
    } catch (const PgException& e) {
        // Rolled back by then (SubTransaction's destructor).
        if (e.data()->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE) return false;
        throw;
    }
}

}  // namespace coord::pg
