#include "pg/common/subtransaction.hpp"

namespace coord::pg {

SubTransaction::SubTransaction() : context_(CurrentMemoryContext), owner_(CurrentResourceOwner) {
    pg_call([&] {
        BeginInternalSubTransaction(nullptr);
        MemoryContextSwitchTo(context_);
    });
}

SubTransaction::~SubTransaction() {
    if (open_) rollback_quietly();
}

void SubTransaction::commit() {
    open_ = false;
    pg_call([&] {
        ReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(context_);
        CurrentResourceOwner = owner_;
    });
}

void SubTransaction::rollback() {
    open_ = false;
    pg_call([&] {
        MemoryContextSwitchTo(context_);
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(context_);
        CurrentResourceOwner = owner_;
    });
}

// While an exception unwinds: the error state was already copied and flushed
// by pg_call, so rolling back here is what PL/pgSQL does in its exception
// handler. A failure now leaves the top-level abort to clean up.
void SubTransaction::rollback_quietly() noexcept {
    try {
        rollback();
    } catch (...) {
    }
}

}  // namespace coord::pg
