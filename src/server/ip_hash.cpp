// The seeded hash of the per-source tables (see ip_hash.hpp).
#include "server/ip_hash.hpp"

#include <sys/random.h>

#include <cstring>

namespace sb::server {
namespace {

// splitmix64's finaliser: every input bit moves every output bit.
std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

}  // namespace

std::size_t IpHash::operator()(const net::IpAddress& ip) const {
    std::uint64_t high = 0;
    std::uint64_t low = 0;
    std::memcpy(&high, ip.bytes.data(), 8);
    std::memcpy(&low, ip.bytes.data() + 8, 8);
    return static_cast<std::size_t>(mix(mix(seed ^ high) ^ low));
}

IpHash IpHash::seeded(const void* table) {
    std::uint64_t seed = 0;
    if (::getrandom(&seed, sizeof seed, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof seed)) {
        seed = mix(reinterpret_cast<std::uintptr_t>(table));
    }
    return IpHash{seed};
}

}  // namespace sb::server
