#include "pg/registers/write_attempt.hpp"

// lock_wait.hpp includes core headers, which must come before PostgreSQL's.
#include "pg/common/lock_wait.hpp"
#include "pg/common/subtransaction.hpp"
#include "pg/common/coord_relations.hpp"
#include "pg/common/index_lookup.hpp"
#include "pg/common/relation_layout.hpp"

extern "C" {
#include "access/table.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
}

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

WriteOutcome attempt_write_without_waiting(const std::function<bool()>& attempt) {
    bool wrote = false;
    if (!with_lock_wait_limit(kShortestLockWait, [&] { wrote = attempt_write(attempt); }))
        return WriteOutcome::busy;
    return wrote ? WriteOutcome::wrote : WriteOutcome::lost;
}

namespace {

// The key column KeyedRow looks rows up by; both tables name it differently,
// so the map is chosen by table (relation_layout.hpp checks name and type).
constexpr ColumnSpec kAuctionKeyColumns[] = {{"auction", TEXTOID}};
constexpr ColumnSpec kRegisterKeyColumns[] = {{"key", TEXTOID}};
ColumnMap auction_key_columns(kAuctionKeyColumns);
ColumnMap register_key_columns(kRegisterKeyColumns);

ColumnMap& key_columns_of(CoordRelation table) {
    return table == CoordRelation::auction_state ? auction_key_columns : register_key_columns;
}

}  // namespace

bool KeyedRow::wait_for_writer() const {
    return pg_call([&] {
        Relation rel = table_open(coord_relation_oid(table), AccessShareLock);
        const RelationLayout& layout = key_columns_of(table).require_layout(rel);
        ScanKeyData scan_key;
        ScanKeyInit(&scan_key, layout.attnum[0], BTEqualStrategyNumber, F_TEXTEQ,
                    PointerGetDatum(cstring_to_text_with_len(key.data(), static_cast<int>(key.size()))));
        TransactionId writer =
            key_row_writer_in_progress(rel, coord_relation_oid(primary_key), &scan_key, 1);
        table_close(rel, AccessShareLock);
        if (!TransactionIdIsValid(writer)) return false;
        XactLockTableWait(writer, nullptr, nullptr, XLTW_None);
        return true;
    });
}

bool KeyedRow::write(const std::function<bool()>& attempt) const {
    switch (attempt_write_without_waiting(attempt)) {
        case WriteOutcome::wrote: return true;
        case WriteOutcome::lost: return false;
        case WriteOutcome::busy: wait_for_writer(); return false;
    }
    return false;
}

}  // namespace coord::pg
