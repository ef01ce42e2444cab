// An internal subtransaction, as PL/pgSQL's exception blocks use: rolled
// back, it undoes what was done in it and releases the locks taken in it
// (row locks included, which nothing else can give back before the
// transaction ends).
#pragma once

#include "pg/common/guard.hpp"

extern "C" {
#include "utils/resowner.h"
}

namespace coord::pg {

class SubTransaction {
public:
    SubTransaction();
    SubTransaction(const SubTransaction&) = delete;
    SubTransaction& operator=(const SubTransaction&) = delete;
    // Still open (an exception unwinds): rolled back.
    ~SubTransaction();
    // What was done in it now belongs to the enclosing transaction.
    void commit();
    void rollback();

private:
    void rollback_quietly() noexcept;
    MemoryContext context_;
    ResourceOwner owner_;
    bool open_ = true;
};

}  // namespace coord::pg
