// Where each value of a JSON text starts, by JSON pointer.
//
// nlohmann::json 3.11 keeps no source positions, so errors found after
// parsing would otherwise name only a pointer. The index is built by one
// linear scan of text that nlohmann has already accepted; it also notices
// keys written twice in one object, which nlohmann silently collapses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sb::config {

struct TextPosition {
    int line = 0;  // 1-based; 0 when unknown
    int column = 0;  // 1-based, in characters (UTF-8 code points)
};

class PositionIndex {
public:
    struct DuplicateKey {
        std::string pointer;  // of the second occurrence
        std::string key;
        TextPosition first;
        TextPosition second;
    };

    // `text` must be valid JSON. Values nested deeper than k_max_depth are
    // not indexed (their errors point at the deepest indexed ancestor).
    static PositionIndex build(std::string_view text);

    // The position of the value at `pointer`, or of its nearest indexed
    // ancestor; {0, 0} when nothing is known.
    [[nodiscard]] TextPosition value(std::string_view pointer) const;
    // Where the member's key starts (array elements: the element itself).
    [[nodiscard]] TextPosition key(std::string_view pointer) const;
    // The first k_max_duplicates keys written twice.
    [[nodiscard]] const std::vector<DuplicateKey>& duplicates() const { return duplicates_; }

    // Line and column of a byte offset (clamped to the text).
    static TextPosition position_of(std::string_view text, std::size_t offset);

    static constexpr std::size_t k_max_depth = 64;
    static constexpr std::size_t k_max_duplicates = 100;

private:
    // One indexed value. Memory is linear in the text: an entry per value,
    // an id per array element, and each member's key once (never a whole
    // pointer per value, which a long key in a large array made quadratic).
    struct Entry {
        TextPosition key;
        TextPosition value;
    };
    using Id = std::uint32_t;
    static constexpr Id k_none = ~Id{0};

    // The entry `pointer` names, or its nearest indexed ancestor; `exact`
    // says which. nullptr when nothing is indexed.
    [[nodiscard]] const Entry* find(std::string_view pointer, bool& exact) const;
    [[nodiscard]] Id child(Id parent, std::string_view token) const;
    static std::string member_key(Id parent, std::string_view key);

    std::vector<Entry> entries_;                          // by id; the root is 0
    std::unordered_map<std::string, Id> members_;         // member_key(object, key) -> id
    std::unordered_map<Id, std::vector<Id>> elements_;    // array -> its elements' ids
    std::vector<DuplicateKey> duplicates_;
};

// "/" + the token with "~" and "/" escaped (RFC 6901).
std::string pointer_token(std::string_view key);

}  // namespace sb::config
