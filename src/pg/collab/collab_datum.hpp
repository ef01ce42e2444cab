// jsonb <-> JSON text and size checks for the collab glue.
#pragma once

#include "pg/common/datum.hpp"

#include <string>

namespace coord::pg {

// jsonb's canonical text of a jsonb Datum.
std::string jsonb_text(Datum value);
// A jsonb Datum from JSON text (in the current memory context).
Datum jsonb_datum(const std::string& text);
// The size of a varlena argument's data (bytea, jsonb), without detoasting it.
std::size_t varlena_bytes(Datum value);

}  // namespace coord::pg
