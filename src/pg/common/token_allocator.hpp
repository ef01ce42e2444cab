// The one fencing-token allocator of every holding: leases (acquire, the
// waiting path, hand-offs), task claims, and what comes later. A token is
// taken outside the transaction (a rolled-back grant's token is never handed
// out again) and is durable before it is returned (not after a crash either);
// its epoch grows with every promotion (not after a failover to a standby
// that lagged). The rules are in core/common/token.hpp; README, "How tokens
// are allocated", gives the reasoning.
//
// State: two sequences of the extension, read and advanced without SQL.
//   coord.token_allocator  the counter (nextval, WAL-logged)
//   coord.token_epoch      which epoch this cluster's timeline has (EpochRecord)
// Works without shared_preload_libraries.
#pragma once

#include "core/common/token.hpp"

namespace coord::pg {

// A token never handed out before and larger than `last`, the name's last
// token (0: none). Raises 25006 in a read-only transaction. Costs one
// nextval and, when the sequence wrote a WAL record (every 32 tokens, and
// first after a checkpoint), one WAL flush.
Token allocate_token(Token last);

// For memory leases (src/pg/leases/memory_table.cpp), which hand out
// counters reserved ahead in blocks: this timeline's epoch (25006 in a
// read-only transaction), and `n` fresh counter values taken at once, durable
// (one WAL flush) before this returns; 54000 when the counter is used up.
std::int64_t token_epoch_now();
void reserve_counters(std::int64_t* out, int n);

}  // namespace coord::pg
