// What each feature registers when the library is loaded. _PG_init calls
// these; a feature adds its own line here and in module.cpp.
#pragma once

namespace coord::pg {

// Every backend: GUCs. Only while shared_preload_libraries is processed:
// shared memory and the background worker.
void define_gucs();

// Waiting for leases (waiting.cpp): GUCs, shared memory, xact callback.
void define_waiting();

}  // namespace coord::pg
