// Collaborative documents: the rules of a durable per-document update log
// with causal delivery. Payloads are opaque (a Yjs or Automerge update); the
// server only decides, per (document, client), which sequence numbers are
// stored, which are delivered, and in which order.
//
// - seq counts 1, 2, 3 ... per (document, client). A resend of a stored seq
//   with the same payload changes nothing; with another payload it is PC002
//   (idempotency_conflict); a seq beyond the next is PC003 (invalid_transition)
//   naming the expected seq.
// - An update depends on its `deps` (a state vector {"client": seq}) and on
//   its own client's previous seq. It is delivered (given a position) only
//   once every dependency is delivered, so positions order dependencies
//   first; until then it is held. Delivered seqs of a client are therefore
//   always 1..n without gaps, and a state vector {"client": n} says exactly
//   which updates a reader has.
#pragma once
#include "core/common/cpp_only.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coord::collab {

using Seq = std::int64_t;
using Position = std::int64_t;
// client -> the last seq delivered (or depended on); clients absent are 0.
using StateVector = std::map<std::string, Seq>;

// Documented limits (README, "Collaborative documents").
inline constexpr std::size_t kMaxDocBytes = 256;
inline constexpr std::size_t kMaxClientBytes = 256;
inline constexpr std::size_t kMaxPayloadBytes = 1024 * 1024;      // 1 MiB per update
inline constexpr std::size_t kMaxSnapshotBytes = 256 * 1024 * 1024;  // 256 MiB per snapshot
inline constexpr std::size_t kMaxClientsPerDoc = 10000;
inline constexpr std::size_t kMaxDepsClients = 1024;             // entries of one deps vector

// A state vector from JSON text (jsonb's output): an object whose keys are
// client ids (1..kMaxClientBytes bytes) and whose values are integers >= 0
// (0 entries are dropped). At most max_entries entries. 22023 naming `param`.
StateVector parse_state_vector(std::string_view json, const char* param,
                               std::size_t max_entries = kMaxClientsPerDoc);
std::string state_vector_json(const StateVector& vector);

// seq must be >= 1 (22023).
Seq require_seq(std::optional<std::int64_t> seq);

struct Update {
    std::string client;
    Seq seq = 0;
    StateVector deps;  // as given (without the implicit previous seq)
};

// Everything the update needs delivered first: its deps and (client, seq-1).
// A dependency on its own client at seq or later is 22023.
StateVector requirements(const Update& update);

// True when every requirement is delivered in `delivered`.
bool deliverable(const Update& update, const StateVector& delivered);

// How an append relates to what is stored for its (document, client).
enum class AppendKind { new_update, resend };

// `stored_last`: the client's highest stored seq (0: none). `same_seq_payload_equal`:
// when seq <= stored_last, whether the stored payload of that seq equals the new one
// (nullopt: that seq was pruned, covered by a snapshot: a resend, not compared).
// Resend with an equal payload -> resend; another payload -> PC002; seq > stored_last + 1
// -> PC003 naming the expected seq.
AppendKind classify_append(std::string_view doc, const Update& update, Seq stored_last,
                           std::optional<bool> same_seq_payload_equal);

// Held updates that become deliverable once `delivered` holds, in delivery
// order (each after its requirements; ties by client then seq). `delivered`
// is advanced past them. Returns indexes into `held`.
std::vector<std::size_t> release_order(const std::vector<Update>& held, StateVector& delivered);

// The in-memory model of one document's log, the rules above applied to a
// sequence of appends (unit tests use it as the reference; the glue applies
// the same functions to the table).
class DocumentLog {
public:
    struct Result {
        bool accepted;
        std::optional<Position> position;  // nullopt while held
        bool held;
    };
    // Throws Error(PC002/PC003/22023) exactly as doc_append does.
    Result append(const Update& update, const std::string& payload);

    struct Delivered {
        std::string client;
        Seq seq;
        Position position;
        std::string payload;
    };
    // Every delivered update the reader of `have` lacks, in position order.
    std::vector<Delivered> since(const StateVector& have) const;
    const StateVector& state_vector() const { return delivered_; }
    std::size_t held_count() const;

private:
    struct Stored {
        Update update;
        std::string payload;
        std::optional<Position> position;
    };
    void deliver(Stored& stored);
    std::map<std::pair<std::string, Seq>, Stored> stored_;
    StateVector delivered_;
    Position next_position_ = 1;
};

}  // namespace coord::collab
