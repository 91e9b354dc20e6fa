// Per-source rate buckets in a fixed-size table (see source_buckets.hpp).
#include "server/source_buckets.hpp"

namespace sb::server {

SourceBuckets::SourceBuckets() : hash_(IpHash::seeded(this)) {}

SourceBuckets::Slot& SourceBuckets::slot_for(const net::IpAddress& source, const config::Rate& rate,
                                             std::uint64_t now) {
    if (slots_.empty()) slots_.resize(k_slots);
    std::size_t first = (hash_(source) % (k_slots / k_ways)) * k_ways;
    Slot* victim = &slots_[first];
    for (std::size_t i = first; i < first + k_ways; ++i) {
        Slot& slot = slots_[i];
        if (slot.used && slot.source == source) return slot;
        // An empty slot first, else the source seen longest ago.
        if (victim->used && (!slot.used || slot.last_seen < victim->last_seen)) victim = &slot;
    }
    *victim = Slot{source, TokenBucket(rate, now), now, true};
    return *victim;
}

bool SourceBuckets::has_token(const net::IpAddress& source, const config::Rate& rate, std::uint64_t now) {
    if (!rate.enabled()) return true;
    Slot& slot = slot_for(source, rate, now);
    slot.last_seen = now;
    return slot.bucket.has_token(rate, now);
}

void SourceBuckets::take(const net::IpAddress& source, const config::Rate& rate, std::uint64_t now) {
    if (!rate.enabled()) return;
    slot_for(source, rate, now).bucket.take(rate);
}

std::size_t SourceBuckets::size() const {
    std::size_t n = 0;
    for (const Slot& slot : slots_) n += slot.used ? 1 : 0;
    return n;
}

}  // namespace sb::server
