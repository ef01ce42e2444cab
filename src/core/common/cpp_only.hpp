// Included first by every core header: the core must stay free of PostgreSQL
// so that it can be unit-tested and reasoned about as plain C++.
#pragma once
#if defined(PG_VERSION_NUM) || defined(POSTGRES_H)
#error "src/core must not include PostgreSQL headers; put PostgreSQL calls in src/pg"
#endif
