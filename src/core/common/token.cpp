#include "core/common/token.hpp"

#include "core/common/error.hpp"

#include <fmt/format.h>

namespace coord {

namespace {

constexpr std::int64_t kMaxRecordTimeline = 0xFFFF;
constexpr std::uint32_t kFingerprintMask = 0x7FFFFFFF;

[[noreturn]] void throw_epochs_used_up(std::int64_t epoch) {
    throw Error(sqlstate::program_limit_exceeded,
                fmt::format("no fencing token can be made in epoch {}: the last epoch is {}", epoch,
                            kMaxTokenEpoch),
                "A token's epoch grows with every promotion (the server's timeline) and with "
                "every restore into a new cluster.",
                "See README, \"How tokens are allocated\".");
}

}  // namespace

void throw_token_counter_used_up() {
    throw Error(sqlstate::program_limit_exceeded,
                fmt::format("no fencing token can be made: the counter's last value {} was handed out",
                            kMaxTokenCounter),
                "The token allocator (sequence coord.token_allocator) has run out.",
                "See README, \"How tokens are allocated\".");
}

Token compose_token(std::int64_t epoch, std::int64_t counter) {
    if (epoch > kMaxTokenEpoch) throw_epochs_used_up(epoch);
    if (epoch < 1) throw Error(sqlstate::internal_error, fmt::format("token epoch {} is below 1", epoch));
    if (counter > kMaxTokenCounter) throw_token_counter_used_up();
    if (counter < 1)
        throw Error(sqlstate::internal_error,
                    fmt::format("fencing token counter {} is below 1", counter));
    return (epoch << kTokenCounterBits) | counter;
}

std::uint32_t cluster_fingerprint(std::uint64_t system_identifier) {
    // splitmix64's finaliser: every bit of the identifier moves the result.
    std::uint64_t z = system_identifier + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return static_cast<std::uint32_t>(z) & kFingerprintMask;
}

std::int64_t pack_epoch_record(const EpochRecord& r) {
    if (r.cluster > kFingerprintMask || r.timeline < 1 || r.timeline > r.epoch ||
        r.epoch > kMaxTokenEpoch)
        throw Error(sqlstate::internal_error,
                    fmt::format("token epoch record out of range: cluster {}, timeline {}, epoch {}",
                                r.cluster, r.timeline, r.epoch));
    return static_cast<std::int64_t>(r.cluster) << 32 | r.timeline << 16 | r.epoch;
}

std::optional<EpochRecord> unpack_epoch_record(std::optional<std::int64_t> value) {
    if (!value) return std::nullopt;
    EpochRecord r{static_cast<std::uint32_t>(*value >> 32) & kFingerprintMask,
                  (*value >> 16) & kMaxRecordTimeline, *value & 0xFFFF};
    if (*value < 0 || r.timeline < 1 || r.timeline > r.epoch)
        throw Error(sqlstate::object_not_in_prerequisite_state,
                    fmt::format("sequence coord.token_epoch holds {}, which pg_coord did not write",
                                *value),
                    "The value records the epoch of fencing tokens; without it no token can be "
                    "handed out safely.",
                    "Restore it from a dump of this database (pg_dump includes it).");
    return r;
}

std::int64_t epoch_of_timeline(const std::optional<EpochRecord>& record, std::uint32_t cluster,
                               std::int64_t timeline) {
    if (timeline < 1) throw Error(sqlstate::internal_error, fmt::format("timeline {} is below 1", timeline));
    std::int64_t epoch;
    if (!record)
        epoch = timeline;
    else if (record->cluster == cluster && timeline >= record->timeline)
        epoch = record->epoch + (timeline - record->timeline);
    else
        epoch = record->epoch + timeline;
    if (epoch > kMaxTokenEpoch) throw_epochs_used_up(epoch);
    return epoch;
}

Token choose_token(Token allocated, Token last) {
    if (allocated > last) return allocated;
    std::int64_t counter = token_counter(allocated);
    std::int64_t epoch = token_epoch(last);
    return compose_token(counter > token_counter(last) ? epoch : epoch + 1, counter);
}

}  // namespace coord
