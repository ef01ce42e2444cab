#include "pg/common/direct_write.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class.h"
#include "catalog/pg_publication.h"
#include "catalog/index.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "nodes/pg_list.h"
#include "storage/lmgr.h"
#include "utils/relcache.h"
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

// The NOT NULL constraint of column `i` (from 0) for a NULL value, as
// ExecConstraints checks it.
void require_not_null_column(Relation table, int i) {
    Form_pg_attribute attribute = TupleDescAttr(RelationGetDescr(table), i);
    if (attribute->attnotnull)
        ereport(ERROR, (errcode(ERRCODE_NOT_NULL_VIOLATION),
                        errmsg("null value in column \"%s\" of relation \"%s\" violates "
                               "not-null constraint",
                               NameStr(attribute->attname), RelationGetRelationName(table))));
}

bool has_triggers_for(const TriggerDesc* t, WriteCommand command) {
    if (t == nullptr) return false;
    switch (command) {
        case WriteCommand::insert:
            return t->trig_insert_before_row || t->trig_insert_after_row ||
                   t->trig_insert_instead_row || t->trig_insert_before_statement ||
                   t->trig_insert_after_statement || t->trig_insert_new_table;
        case WriteCommand::update:
            return t->trig_update_before_row || t->trig_update_after_row ||
                   t->trig_update_instead_row || t->trig_update_before_statement ||
                   t->trig_update_after_statement || t->trig_update_old_table ||
                   t->trig_update_new_table;
        case WriteCommand::delete_:
            return t->trig_delete_before_row || t->trig_delete_after_row ||
                   t->trig_delete_instead_row || t->trig_delete_before_statement ||
                   t->trig_delete_after_statement || t->trig_delete_old_table;
        case WriteCommand::count:
            break;
    }
    return true;
}

// What CheckCmdReplicaIdentity (execReplication.c) refuses: an update or
// delete of a published table without the replica identity the publication
// needs for it.
bool replica_identity_refuses(Relation table, WriteCommand command) {
    if (command != WriteCommand::update && command != WriteCommand::delete_) return false;
    PublicationDesc publications;
    RelationBuildPublicationDesc(table, &publications);  // cached by the relcache
    bool update = command == WriteCommand::update;
    if (!(update ? publications.rf_valid_for_update && publications.cols_valid_for_update
                 : publications.rf_valid_for_delete && publications.cols_valid_for_delete))
        return true;
    if (OidIsValid(RelationGetReplicaIndex(table)) ||
        table->rd_rel->relreplident == REPLICA_IDENTITY_FULL)
        return false;
    return update ? publications.pubactions.pubupdate : publications.pubactions.pubdelete;
}

}  // namespace

bool executor_needed(Relation table, WriteCommand command) {
    TupleConstr* constraints = RelationGetDescr(table)->constr;
    bool writes_row = command != WriteCommand::delete_;
    return table->rd_rel->relkind != RELKIND_RELATION ||
           table->rd_rel->relam != HEAP_TABLE_AM_OID ||
           table->rd_rel->relrowsecurity ||
           has_triggers_for(table->trigdesc, command) ||
           (writes_row && constraints != nullptr &&
            (constraints->num_check > 0 || constraints->has_generated_stored)) ||
           replica_identity_refuses(table, command);
}

bool may_write_directly(Relation table, ColumnMap& map, WriteCommand command) {
    const RelationLayout& layout = map.layout(table);
    return layout.matches && !(command == WriteCommand::insert && layout.extra_columns) &&
           !layout.executor_needed[static_cast<int>(command)];
}

void require_not_null(Relation table, const bool* nulls) {
    for (int i = 0; i < RelationGetDescr(table)->natts; ++i)
        if (nulls[i]) require_not_null_column(table, i);
}

RowValues new_row_values(Relation table) {
    int natts = RelationGetDescr(table)->natts;
    RowValues row;
    row.values = static_cast<Datum*>(palloc0(sizeof(Datum) * natts));
    row.nulls = static_cast<bool*>(palloc(sizeof(bool) * natts));
    row.replace = static_cast<bool*>(palloc0(sizeof(bool) * natts));
    memset(row.nulls, true, sizeof(bool) * natts);
    return row;
}

HeapTuple modified_row(Relation table, HeapTuple old, const RowValues& row) {
    TupleDesc desc = RelationGetDescr(table);
    for (int i = 0; i < desc->natts; ++i)
        if (row.replace[i] && row.nulls[i]) require_not_null_column(table, i);
    return heap_modify_tuple(old, desc, row.values, row.nulls, row.replace);
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
