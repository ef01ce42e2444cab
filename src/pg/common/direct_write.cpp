#include "pg/common/direct_write.hpp"

extern "C" {
#include "access/tableam.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "nodes/pg_list.h"
#include "storage/lmgr.h"
#include "utils/snapmgr.h"
}

#include <cstring>

namespace coord::pg {

namespace {

// The executor state the index helpers of execIndexing.c need: the table as
// a result relation with its indexes open.
struct IndexWriter {
    EState* estate;
    ResultRelInfo* result_rel;

    explicit IndexWriter(Relation table) {
        estate = CreateExecutorState();
        result_rel = makeNode(ResultRelInfo);
        InitResultRelInfo(result_rel, table, 1, nullptr, 0);
        ExecOpenIndices(result_rel, /*speculative=*/false);
    }
    // What ExecCheckIndexConstraints compares the key of `index` with
    // (ExecOpenIndices(..., true) prepares it for every unique index up
    // front; only a look-up after a conflict needs it, for one index).
    void prepare_key_check(Oid index) {
        for (int i = 0; i < result_rel->ri_NumIndices; ++i) {
            Relation index_rel = result_rel->ri_IndexRelationDescs[i];
            IndexInfo* info = result_rel->ri_IndexRelationInfo[i];
            if (RelationGetRelid(index_rel) == index && info->ii_UniqueOps == nullptr)
                BuildSpeculativeIndexInfo(index_rel, info);
        }
    }
    // Not a destructor: this lives inside pg_call, where an ERROR unwinds by
    // longjmp (the transaction's abort frees the memory and closes the indexes).
    void close() {
        ExecCloseIndices(result_rel);
        FreeExecutorState(estate);
    }
};

// ON CONFLICT DO NOTHING under a transaction snapshot: a conflicting row
// that the snapshot cannot see (committed after it was taken) is a
// serialization failure, not "nothing to do" (ExecCheckTIDVisible).
void check_conflict_visible(Relation table, ItemPointer conflict) {
    if (!IsolationUsesXactSnapshot()) return;
    TupleTableSlot* existing = table_slot_create(table, nullptr);
    if (!table_tuple_fetch_row_version(table, conflict, SnapshotAny, existing))
        elog(ERROR, "pg_coord: failed to fetch the conflicting row of \"%s\"",
             RelationGetRelationName(table));
    if (!table_tuple_satisfies_snapshot(table, existing, GetTransactionSnapshot())) {
        bool isnull = false;
        Datum xmin = slot_getsysattr(existing, MinTransactionIdAttributeNumber, &isnull);
        if (!TransactionIdIsCurrentTransactionId(DatumGetTransactionId(xmin)))
            ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                            errmsg("could not serialize access due to concurrent update")));
    }
    ExecDropSingleTupleTableSlot(existing);
}

// The NOT NULL constraints, as ExecConstraints checks them.
void require_not_null(Relation table, const bool* nulls) {
    TupleDesc desc = RelationGetDescr(table);
    for (int i = 0; i < desc->natts; ++i)
        if (nulls[i] && TupleDescAttr(desc, i)->attnotnull)
            ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION),
                            errmsg("null value in column \"%s\" of relation \"%s\" violates "
                                   "not-null constraint",
                                   NameStr(TupleDescAttr(desc, i)->attname),
                                   RelationGetRelationName(table))));
}

}  // namespace

bool insert_needs_executor(Relation table) {
    TupleConstr* constraints = RelationGetDescr(table)->constr;
    return table->trigdesc != nullptr ||
           (constraints != nullptr && (constraints->num_check > 0 ||
                                       constraints->has_generated_stored));
}

// The steps of ExecInsert (nodeModifyTable.c) for ON CONFLICT DO NOTHING:
// insert the row as speculative, then its index entries; if another session
// inserted the key meanwhile, the unique index reports it, our row is killed
// (never visible to anyone), and the look-up for the key that waits for an
// insert in progress follows (ExecCheckIndexConstraints); a free key is tried
// again. The first look-up is the caller's (find_unique_key_row).
bool insert_unless_key_exists(Relation table, Oid key_index, const Datum* values,
                              const bool* nulls) {
    require_not_null(table, nulls);
    IndexWriter writer(table);
    TupleTableSlot* slot = table_slot_create(table, nullptr);
    List* arbiters = list_make1_oid(key_index);
    int natts = RelationGetDescr(table)->natts;
    bool inserted = false;
    for (bool looked_up = true;; looked_up = false) {
        ExecClearTuple(slot);
        memcpy(slot->tts_values, values, sizeof(Datum) * natts);
        memcpy(slot->tts_isnull, nulls, sizeof(bool) * natts);
        ExecStoreVirtualTuple(slot);
        slot->tts_tableOid = RelationGetRelid(table);

        if (!looked_up) {
            writer.prepare_key_check(key_index);
            ItemPointerData conflict;
            if (!ExecCheckIndexConstraints(writer.result_rel, slot, writer.estate, &conflict,
                                           arbiters)) {
                check_conflict_visible(table, &conflict);
                break;
            }
        }
        // Sessions that find our row while it is speculative wait on this
        // lock for our decision, not for our whole transaction.
        uint32 token = SpeculativeInsertionLockAcquire(GetCurrentTransactionId());
        table_tuple_insert_speculative(table, slot, GetCurrentCommandId(true), 0, nullptr, token);
        bool key_taken = false;
        List* recheck = ExecInsertIndexTuples(writer.result_rel, slot, writer.estate, false, true,
                                              &key_taken, arbiters);
        table_tuple_complete_speculative(table, slot, token, !key_taken);
        SpeculativeInsertionLockRelease(GetCurrentTransactionId());
        list_free(recheck);
        if (!key_taken) {
            inserted = true;
            break;
        }
    }
    list_free(arbiters);
    ExecDropSingleTupleTableSlot(slot);
    writer.close();
    return inserted;
}

void insert_index_entries(Relation table, HeapTuple tuple) {
    IndexWriter writer(table);
    TupleTableSlot* slot = MakeSingleTupleTableSlot(RelationGetDescr(table), &TTSOpsHeapTuple);
    ExecStoreHeapTuple(tuple, slot, false);
    ExecInsertIndexTuples(writer.result_rel, slot, writer.estate, false, false, nullptr, NIL);
    ExecDropSingleTupleTableSlot(slot);
    writer.close();
}

}  // namespace coord::pg
