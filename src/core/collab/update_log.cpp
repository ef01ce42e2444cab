#include "core/collab/update_log.hpp"

#include "core/collab/json_object.hpp"
#include "core/common/error.hpp"
#include "core/common/json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <limits>

namespace coord::collab {

namespace {

[[noreturn]] void bad(std::string message) {
    throw Error(sqlstate::invalid_parameter_value, std::move(message));
}

}  // namespace

StateVector parse_state_vector(std::string_view json, const char* param, std::size_t max_entries) {
    StateVector vector;
    std::vector<JsonMember> members = json_object_members(json, param);
    if (members.size() > max_entries)
        bad(fmt::format("{} has {} clients, at most {}", param, members.size(), max_entries));
    for (const JsonMember& m : members) {
        if (m.key.empty() || m.key.size() > kMaxClientBytes)
            bad(fmt::format("{}: a client id must have 1 to {} bytes", param, kMaxClientBytes));
        Seq seq = -1;
        const char* first = m.value.data();
        const char* last = first + m.value.size();
        auto [ptr, ec] = std::from_chars(first, last, seq);
        if (ec != std::errc() || ptr != last || seq < 0)
            bad(fmt::format("{}: the seq of client \"{}\" must be an integer >= 0, not {}", param,
                            m.key, m.value));
        if (seq > 0) vector[m.key] = seq;
    }
    return vector;
}

std::string state_vector_json(const StateVector& vector) {
    std::vector<std::pair<std::string, std::string>> members;
    for (const auto& [client, seq] : vector) members.emplace_back(client, std::to_string(seq));
    return json_object_text(members);
}

Seq require_seq(std::optional<std::int64_t> seq) {
    if (!seq) throw Error(sqlstate::null_value_not_allowed, "seq must not be NULL");
    if (*seq < 1) bad(fmt::format("seq must be 1 or more, not {}", *seq));
    return *seq;
}

StateVector requirements(const Update& update) {
    StateVector need;
    for (const auto& [client, seq] : update.deps) {
        if (client == update.client && seq >= update.seq)
            bad(fmt::format("deps: update {} of client \"{}\" cannot depend on its own seq {}",
                            update.seq, update.client, seq));
        if (seq > 0) need[client] = seq;
    }
    if (update.seq > 1) {
        Seq& own = need[update.client];
        own = std::max(own, update.seq - 1);
    }
    return need;
}

bool deliverable(const Update& update, const StateVector& delivered) {
    for (const auto& [client, seq] : requirements(update)) {
        auto it = delivered.find(client);
        if (it == delivered.end() || it->second < seq) return false;
    }
    return true;
}

AppendKind classify_append(std::string_view doc, const Update& update, Seq stored_last,
                           std::optional<bool> same_seq_payload_equal) {
    if (update.seq <= stored_last) {
        // Not stored any more (pruned, covered by a snapshot): nothing to compare.
        if (!same_seq_payload_equal || *same_seq_payload_equal) return AppendKind::resend;
        throw Error(sqlstate::idempotency_conflict,
                    fmt::format("update {} of client \"{}\" in document \"{}\" is already stored "
                                "with another payload",
                                update.seq, update.client, doc),
                    "A resend must carry the same payload; a new update takes the next seq.");
    }
    if (update.seq > stored_last + 1)
        throw Error(sqlstate::invalid_transition,
                    fmt::format("update {} of client \"{}\" in document \"{}\" leaves a gap: the "
                                "expected seq is {}",
                                update.seq, update.client, doc, stored_last + 1),
                    fmt::format("expected seq: {}", stored_last + 1));
    return AppendKind::new_update;
}

std::vector<std::size_t> release_order(const std::vector<Update>& held, StateVector& delivered) {
    std::vector<std::size_t> order;
    std::vector<bool> done(held.size(), false);
    // Candidates in (client, seq) order; repeat until nothing more is released.
    std::vector<std::size_t> idx(held.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
        if (held[a].client != held[b].client) return held[a].client < held[b].client;
        return held[a].seq < held[b].seq;
    });
    bool progress = true;
    while (progress) {
        progress = false;
        for (std::size_t i : idx) {
            if (done[i] || !deliverable(held[i], delivered)) continue;
            done[i] = true;
            order.push_back(i);
            Seq& mine = delivered[held[i].client];
            mine = std::max(mine, held[i].seq);
            progress = true;
        }
    }
    return order;
}

DocumentLog::Result DocumentLog::append(const Update& update, const std::string& payload) {
    requirements(update);  // validates deps
    auto key = std::make_pair(update.client, update.seq);
    Seq stored_last = 0;
    // Highest stored seq of this client.
    auto it = stored_.lower_bound({update.client, std::numeric_limits<Seq>::max()});
    if (it != stored_.begin()) {
        auto prev = std::prev(it);
        if (prev->first.first == update.client) stored_last = prev->first.second;
    }
    std::optional<bool> equal;
    if (auto found = stored_.find(key); found != stored_.end()) equal = found->second.payload == payload;
    if (classify_append("doc", update, stored_last, equal) == AppendKind::resend) {
        const Stored& s = stored_.at(key);
        return {false, s.position, !s.position};
    }
    Stored& s = stored_[key] = Stored{update, payload, std::nullopt};
    if (!deliverable(update, delivered_)) return {true, std::nullopt, true};
    deliver(s);
    Position mine = *s.position;
    std::vector<Update> held;
    std::vector<Stored*> refs;
    for (auto& [k, st] : stored_)
        if (!st.position) {
            held.push_back(st.update);
            refs.push_back(&st);
        }
    StateVector sv = delivered_;
    for (std::size_t i : release_order(held, sv)) deliver(*refs[i]);
    return {true, mine, false};
}

void DocumentLog::deliver(Stored& stored) {
    stored.position = next_position_++;
    Seq& mine = delivered_[stored.update.client];
    mine = std::max(mine, stored.update.seq);
}

std::vector<DocumentLog::Delivered> DocumentLog::since(const StateVector& have) const {
    std::vector<Delivered> out;
    for (const auto& [k, st] : stored_) {
        if (!st.position) continue;
        auto it = have.find(k.first);
        if (it != have.end() && it->second >= k.second) continue;
        out.push_back({k.first, k.second, *st.position, st.payload});
    }
    std::sort(out.begin(), out.end(),
              [](const Delivered& a, const Delivered& b) { return a.position < b.position; });
    return out;
}

std::size_t DocumentLog::held_count() const {
    std::size_t n = 0;
    for (const auto& [k, st] : stored_) n += st.position ? 0 : 1;
    return n;
}

}  // namespace coord::collab
