#include "pg/direct_write.hpp"

extern "C" {
#include "executor/executor.h"
#include "nodes/execnodes.h"
}

namespace coord::pg {

bool insert_needs_executor(Relation table) {
    TupleConstr* constraints = RelationGetDescr(table)->constr;
    return table->trigdesc != nullptr ||
           (constraints != nullptr && (constraints->num_check > 0 ||
                                       constraints->has_generated_stored));
}

// ExecInsertIndexTuples (execIndexing.c) needs the table as a result
// relation with its indexes open. No destructor: this runs inside pg_call,
// where an ERROR unwinds by longjmp (the transaction's abort frees the
// memory and closes the indexes).
void insert_index_entries(Relation table, HeapTuple tuple) {
    EState* estate = CreateExecutorState();
    ResultRelInfo* result_rel = makeNode(ResultRelInfo);
    InitResultRelInfo(result_rel, table, 1, nullptr, 0);
    ExecOpenIndices(result_rel, /*speculative=*/false);
    TupleTableSlot* slot = MakeSingleTupleTableSlot(RelationGetDescr(table), &TTSOpsHeapTuple);
    ExecStoreHeapTuple(tuple, slot, false);
    ExecInsertIndexTuples(result_rel, slot, estate, false, false, nullptr, NIL);
    ExecDropSingleTupleTableSlot(slot);
    ExecCloseIndices(result_rel);
    FreeExecutorState(estate);
}

}  // namespace coord::pg
