// PackedAddress (see packed_address.hpp).
#include "net/packed_address.hpp"

#include <cstring>

namespace sb::net {

PackedAddress::PackedAddress(const SockAddr& address) {
    if (static_cast<std::size_t>(address.length) <= sizeof inline_) {
        std::memcpy(&inline_, &address.storage, static_cast<std::size_t>(address.length));
        length_ = address.length;
    } else {
        long_ = std::make_unique<SockAddr>(address);
    }
}

SockAddr PackedAddress::get() const {
    if (long_) return *long_;
    return SockAddr::from(&inline_.raw, length_);
}

}  // namespace sb::net
