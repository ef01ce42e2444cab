// The columns of an extension table that a direct reader or writer (code
// that reads or forms heap tuples without the executor) addresses, found by
// NAME in the relation and checked by TYPE, never assumed by position: a
// column an administrator added, dropped or retyped is noticed before a
// tuple is read or written with it. The result is cached per relation and
// forgotten on the relation's relcache invalidation (every ALTER TABLE,
// CREATE TRIGGER, policy or publication change sends one), so a hot call
// pays one comparison.
//
// A column map is a static array of ColumnSpec next to the code that uses it;
// adding a column is one line there:
//
//   constexpr ColumnSpec kLeaseColumns[] = {{"name", TEXTOID}, {"owner", TEXTOID}, ...};
//   ColumnMap lease_columns(kLeaseColumns);
//   constexpr int kOwner = column_index(kLeaseColumns, "owner");  // checked at compile time
//   ... heap_getattr(tuple, lease_columns.layout(table).attnum[kOwner], ...)
#pragma once

#include "pg/common/pg_headers.hpp"

#include <cstddef>
#include <stdexcept>

extern "C" {
#include "utils/rel.h"
}

namespace coord::pg {

// A column a direct reader or writer uses: its name and type (without a
// type modifier: every such column of the extension is unconstrained).
struct ColumnSpec {
    const char* name;
    Oid type;
};

// The index of column `name` in a map. In a constant expression a name
// that is not in the map does not compile.
template <std::size_t N>
constexpr int column_index(const ColumnSpec (&columns)[N], std::string_view name) {
    for (std::size_t i = 0; i < N; ++i)
        if (name == columns[i].name) return static_cast<int>(i);
    throw std::logic_error("column not in the column map");
}

inline constexpr int kMaxMappedColumns = 24;

// The commands a direct writer replaces (direct_write.hpp decides which may).
enum class WriteCommand { insert, update, delete_, count };

// What a relation's columns are for one column map. Plain data: read inside
// pg_call.
struct RelationLayout {
    // Every mapped column exists (not dropped) with its type and no typmod.
    bool matches;
    // Otherwise the first mapped column that does not (an index into the map).
    int mismatched_column;
    // Live columns outside the map: a direct insert would have to fill
    // them, with their defaults.
    bool extra_columns;
    // The attribute number of each mapped column (InvalidAttrNumber when missing).
    AttrNumber attnum[kMaxMappedColumns];
    // Whether the executor would do more than write the row for a command
    // (triggers, constraints, row-level security, replication): kept here
    // so it is forgotten with the layout (see direct_write.hpp).
    bool executor_needed[static_cast<int>(WriteCommand::count)];
};

class ColumnMap {
public:
    template <std::size_t N>
    constexpr explicit ColumnMap(const ColumnSpec (&columns)[N])
        : columns_(columns), count_(static_cast<int>(N)) {
        static_assert(N <= kMaxMappedColumns, "raise kMaxMappedColumns");
    }
    ColumnMap(const ColumnMap&) = delete;
    ColumnMap& operator=(const ColumnMap&) = delete;

    // The layout of `table` (opened and locked by the caller) for this map,
    // built on the first use after an invalidation. Inside pg_call.
    const RelationLayout& layout(Relation table);
    // The same, raising 55000 (naming the relation and the column) unless
    // every mapped column matches: for a reader, which has no other way to
    // read the row. Inside pg_call.
    const RelationLayout& require_layout(Relation table);

    int count() const { return count_; }
    const ColumnSpec& column(int i) const { return columns_[i]; }

private:
    void rebuild(Relation table);
    friend void forget_layouts(Datum, Oid);

    const ColumnSpec* columns_;
    int count_;
    Oid relid_ = InvalidOid;  // the relation layout_ describes; InvalidOid: none
    RelationLayout layout_{};
    ColumnMap* next_ = nullptr;  // every map that was used, for the invalidation
    bool listed_ = false;
};

}  // namespace coord::pg
