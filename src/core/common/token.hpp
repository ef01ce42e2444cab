// Fencing tokens: how a token is made of an epoch and a counter, which epoch
// a server's timeline gives, and what a name's next token is. The glue
// (src/pg/common/token_allocator) keeps the counter and the epoch record in
// sequences and asks these functions; README, "How tokens are allocated",
// gives the reasoning.
//
//   token = epoch << 47 | counter      (a positive bigint)
//
// The counter comes from one non-transactional, WAL-logged allocator and is
// never handed out twice by one server timeline. The epoch grows with every
// promotion (it is the timeline plus a per-cluster offset), so a promoted
// standby whose copy of the counter lagged still hands out larger tokens.
#pragma once
#include "core/common/cpp_only.hpp"

#include <cstdint>
#include <functional>
#include <optional>

namespace coord {

using Token = std::int64_t;

// Hands out a token never handed out before for the name whose last token is
// `last` (0: none), and larger than it.
using TokenSource = std::function<Token(Token last)>;

inline constexpr int kTokenCounterBits = 47;
inline constexpr std::int64_t kMaxTokenCounter = (std::int64_t{1} << kTokenCounterBits) - 1;
inline constexpr std::int64_t kMaxTokenEpoch = (std::int64_t{1} << (63 - kTokenCounterBits)) - 1;

// Throws 54000 (program_limit_exceeded) past kMaxTokenEpoch or
// kMaxTokenCounter.
Token compose_token(std::int64_t epoch, std::int64_t counter);
// 54000: every counter value was handed out.
[[noreturn]] void throw_token_counter_used_up();
inline std::int64_t token_epoch(Token t) { return t >> kTokenCounterBits; }
inline std::int64_t token_counter(Token t) { return t & kMaxTokenCounter; }

// Which epoch timeline `timeline` of a cluster had, as last written down
// (coord.token_epoch). `cluster` is a fingerprint of the cluster's system
// identifier: a restored dump or a pg_upgrade brings the record of another
// cluster, whose timelines started again at 1.
struct EpochRecord {
    std::uint32_t cluster;
    std::int64_t timeline;
    std::int64_t epoch;
    bool operator==(const EpochRecord& o) const {
        return cluster == o.cluster && timeline == o.timeline && epoch == o.epoch;
    }
};

// 31 bits of the system identifier, mixed.
std::uint32_t cluster_fingerprint(std::uint64_t system_identifier);

// One bigint (a sequence's value): cluster << 32 | timeline << 16 | epoch.
// The timeline is at most the epoch, so 16 bits hold it.
std::int64_t pack_epoch_record(const EpochRecord& record);
// nullopt for "never written" (the sequence was never set); throws 55000
// for a value that no pack_epoch_record made.
std::optional<EpochRecord> unpack_epoch_record(std::optional<std::int64_t> value);

// The epoch of `timeline` on `cluster`:
//  - no record: the timeline itself;
//  - a record of this cluster: its epoch plus the timelines since (the
//    epoch grows by one per promotion, however far behind the record is);
//  - a record of another cluster (or of a later timeline, which only another
//    cluster can have): past its epoch by this timeline.
// The result is the same whichever of this cluster's records is current, so
// a server that has not seen the newest record still agrees on it. Throws
// 54000 when the epoch would pass kMaxTokenEpoch.
std::int64_t epoch_of_timeline(const std::optional<EpochRecord>& record, std::uint32_t cluster,
                               std::int64_t timeline);

// The name's next token from `allocated` (the allocator's new token) and the
// name's `last` token: `allocated` when it is larger. Otherwise the name's
// tokens came from elsewhere (rows without the allocator's state, e.g.
// logically replicated); then the same counter continues in `last`'s epoch
// (the next one when the counter is not above last's), still larger than
// `last` and, the counter being new, never handed out before. Throws 54000
// past the last epoch.
Token choose_token(Token allocated, Token last);

}  // namespace coord
