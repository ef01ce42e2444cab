#include "pg/common/relation_layout.hpp"
#include "pg/common/direct_write.hpp"

extern "C" {
#include "utils/inval.h"
#include "utils/lsyscache.h"
}

#include <cstring>

namespace coord::pg {

namespace {

ColumnMap* listed_maps = nullptr;
bool callback_registered = false;
// Counts invalidations, so that a layout built while one arrived (catalog
// look-ups accept invalidation messages) is not kept as valid.
std::uint64_t invalidations = 0;

const char* qualified_name(Relation table) {
    return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(table)),
                                      RelationGetRelationName(table));
}

}  // namespace

void forget_layouts(Datum, Oid relation) {
    ++invalidations;
    for (ColumnMap* map = listed_maps; map != nullptr; map = map->next_)
        if (!OidIsValid(relation) || map->relid_ == relation) map->relid_ = InvalidOid;
}

void ColumnMap::rebuild(Relation table) {
    if (!callback_registered) {
        CacheRegisterRelcacheCallback(forget_layouts, Datum(0));
        callback_registered = true;
    }
    if (!listed_) {
        next_ = listed_maps;
        listed_maps = this;
        listed_ = true;
    }
    std::uint64_t invalidations_before = invalidations;
    TupleDesc desc = RelationGetDescr(table);
    RelationLayout built{};
    built.matches = true;
    built.mismatched_column = -1;
    int live_columns = 0;
    for (int a = 0; a < desc->natts; ++a)
        if (!TupleDescAttr(desc, a)->attisdropped) ++live_columns;
    int mapped_found = 0;
    for (int i = 0; i < count_; ++i) {
        built.attnum[i] = InvalidAttrNumber;
        for (int a = 0; a < desc->natts; ++a) {
            Form_pg_attribute attribute = TupleDescAttr(desc, a);
            if (!attribute->attisdropped && strcmp(NameStr(attribute->attname), columns_[i].name) == 0) {
                built.attnum[i] = attribute->attnum;
                ++mapped_found;
                if (built.matches &&
                    (attribute->atttypid != columns_[i].type || attribute->atttypmod != -1)) {
                    built.matches = false;
                    built.mismatched_column = i;
                }
                break;
            }
        }
        if (built.attnum[i] == InvalidAttrNumber && built.matches) {
            built.matches = false;
            built.mismatched_column = i;
        }
    }
    built.extra_columns = live_columns > mapped_found;
    for (int c = 0; c < static_cast<int>(WriteCommand::count); ++c)
        built.executor_needed[c] = executor_needed(table, static_cast<WriteCommand>(c));
    layout_ = built;
    relid_ = invalidations == invalidations_before ? RelationGetRelid(table) : InvalidOid;
}

const RelationLayout& ColumnMap::layout(Relation table) {
    if (relid_ != RelationGetRelid(table)) rebuild(table);
    return layout_;
}

const RelationLayout& ColumnMap::require_layout(Relation table) {
    const RelationLayout& built = layout(table);
    if (built.matches) return built;
    const ColumnSpec& expected = columns_[built.mismatched_column];
    const char* expected_type = format_type_be(expected.type);
    AttrNumber found = built.attnum[built.mismatched_column];
    const char* problem =
        found == InvalidAttrNumber
            ? "is missing"
            : psprintf("has type %s",
                       format_type_with_typemod(TupleDescAttr(RelationGetDescr(table), found - 1)->atttypid,
                                                TupleDescAttr(RelationGetDescr(table), found - 1)->atttypmod));
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("column \"%s\" of relation %s %s; pg_coord needs it as %s", expected.name,
                    qualified_name(table), problem, expected_type),
             errdetail("pg_coord reads and writes this table directly, finding its columns by "
                       "name and type."),
             errhint("Restore the column as the extension created it (%s %s).", expected.name,
                     expected_type)));
    return built;  // not reached
}

}  // namespace coord::pg
