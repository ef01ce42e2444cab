// coord.doc_updates without the executor, for the usual append: the next
// seq of a client whose previous seq is delivered, with every dependency
// delivered. Everything else (a client's first seq, a resend, a gap, an
// update that would be held, a table that may not be written directly) is
// left to the SQL path of doc_functions.cpp, which decides it all again.
#pragma once

#include "core/collab/update_log.hpp"
#include "pg/common/pg_headers.hpp"

#include <optional>
#include <string_view>

namespace coord::pg {

// Takes the document's lock (see doc_functions.cpp): share for an append
// that is delivered, exclusive for one that would be held. Inside pg_call.
void lock_document_in_pg(std::string_view doc, bool exclusive);

struct DirectAppend {
    // False: nothing was written; run the SQL path.
    bool handled = false;
    collab::Position position = 0;
    // The document has held updates (seen after the document's lock), which
    // this delivery may release.
    bool held_exist = false;
};

// Appends `update` (seq >= 2) delivered, with its announcement row, when
// its client's stored seqs end at seq - 1, delivered, and every other
// requirement in `need` (requirements(update)) is stored and delivered:
// what the SQL path's look-up, INSERT ... ON CONFLICT DO NOTHING and
// announcement do for that case, under the same lock and snapshot rules. A
// stored seq (a resend, also one that a concurrent append committed first)
// is left unhandled.
DirectAppend append_directly(std::string_view doc, const collab::Update& update,
                             const collab::StateVector& need, Datum payload,
                             std::optional<Datum> deps, Oid appended_by);

}  // namespace coord::pg
