#include "pg/registers/write_attempt.hpp"

#include "pg/common/subtransaction.hpp"

namespace coord::pg {

bool attempt_write(const std::function<bool()>& attempt) {
    SubTransaction sub;  // an exception unwinding rolls it back
    bool wrote = attempt();
    if (wrote)
        sub.commit();
    else
        sub.rollback();
    return wrote;
}

}  // namespace coord::pg
