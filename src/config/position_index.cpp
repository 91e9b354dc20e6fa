// A single forward scan over already-validated JSON, recording where every
// value (and every member's key) starts. The scan is iterative, so nesting
// depth costs heap, not stack; it is defensive against malformed input all
// the same (it stops, it never reads past the end).
#include "config/position_index.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <string>
#include <unordered_map>

namespace sb::config {

std::string pointer_token(std::string_view key) {
    std::string out = "/";
    for (char c : key) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

namespace {

class Scanner {
public:
    explicit Scanner(std::string_view text) : text_(text) {}

    [[nodiscard]] bool at_end() const { return i_ >= text_.size(); }
    [[nodiscard]] char peek() const { return at_end() ? '\0' : text_[i_]; }
    [[nodiscard]] TextPosition here() const { return {line_, column_}; }

    void advance() {
        if (at_end()) return;
        auto c = static_cast<unsigned char>(text_[i_++]);
        if (c == '\n') {
            ++line_;
            column_ = 1;
        } else if (at_end() || (static_cast<unsigned char>(text_[i_]) & 0xC0) != 0x80) {
            // Count a character when the next byte starts a new one, so a
            // multi-byte UTF-8 sequence moves the column once.
            ++column_;
        }
    }

    void skip_whitespace() {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) advance();
    }

    // At an opening quote: consumes the string and returns its raw text,
    // quotes included.
    std::string_view skip_string() {
        std::size_t start = i_;
        advance();
        while (!at_end() && peek() != '"') {
            if (peek() == '\\') advance();
            advance();
        }
        advance();
        return text_.substr(start, i_ - start);
    }

    // Numbers and the literals true, false, null.
    void skip_scalar() {
        while (!at_end()) {
            char c = peek();
            if (c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r') break;
            advance();
        }
    }

private:
    std::string_view text_;
    std::size_t i_ = 0;
    int line_ = 1;
    int column_ = 1;
};

std::string decode_key(std::string_view raw) {
    if (raw.size() < 2) return {};
    if (raw.find('\\') == std::string_view::npos) return std::string(raw.substr(1, raw.size() - 2));
    try {
        return nlohmann::json::parse(raw).get<std::string>();
    } catch (const nlohmann::json::exception&) {
        return std::string(raw.substr(1, raw.size() - 2));
    }
}

}  // namespace

std::string PositionIndex::member_key(Id parent, std::string_view key) {
    std::string out(sizeof parent, '\0');
    std::memcpy(out.data(), &parent, sizeof parent);
    out += key;
    return out;
}

PositionIndex PositionIndex::build(std::string_view text) {
    PositionIndex index;
    struct Frame {
        bool object = false;
        Id id = k_none;          // the container's entry; k_none when not indexed
        std::size_t prefix = 0;  // length of `pointer` at the container itself
        std::vector<Id> elements;  // arrays: the ids of the elements so far
    };
    std::vector<Frame> stack;
    // The pointer of the current value, kept only to name duplicate keys:
    // one string for the whole scan, never a copy per value.
    std::string pointer;
    Scanner s(text);
    TextPosition key_at;

    auto indexed = [&] { return stack.size() <= k_max_depth && (stack.empty() || stack.back().id != k_none); };
    // After '{' or ',' in an object: reads `"key" :` and points at its value.
    auto read_key = [&](Frame& frame) {
        s.skip_whitespace();
        if (s.peek() != '"') return false;
        key_at = s.here();
        std::string key = decode_key(s.skip_string());
        pointer.resize(frame.prefix);
        if (indexed()) {
            pointer += pointer_token(key);
            auto [it, fresh] = index.members_.try_emplace(member_key(frame.id, key), static_cast<Id>(index.entries_.size()));
            if (!fresh && index.duplicates_.size() < k_max_duplicates) {
                index.duplicates_.push_back({pointer, key, index.entries_[it->second].key, key_at});
            }
        }
        s.skip_whitespace();
        if (s.peek() != ':') return false;
        s.advance();
        return true;
    };
    auto next_element = [&](Frame& frame) {
        pointer.resize(frame.prefix);
        if (indexed()) {
            pointer += "/" + std::to_string(frame.elements.size());
            frame.elements.push_back(static_cast<Id>(index.entries_.size()));
        }
    };
    auto close = [&] {
        Frame& frame = stack.back();
        if (!frame.object && frame.id != k_none && !frame.elements.empty()) {
            index.elements_.emplace(frame.id, std::move(frame.elements));
        }
        pointer.resize(frame.prefix);
        stack.pop_back();
    };

    s.skip_whitespace();
    key_at = s.here();
    while (!s.at_end()) {
        // At the start of a value.
        s.skip_whitespace();
        TextPosition value_at = s.here();
        Id id = k_none;
        if (indexed() && index.entries_.size() < k_none) {
            id = static_cast<Id>(index.entries_.size());
            index.entries_.push_back(Entry{key_at, value_at});
        }
        char c = s.peek();
        if (c == '{' || c == '[') {
            stack.push_back(Frame{c == '{', id, pointer.size(), {}});
            s.advance();
            s.skip_whitespace();
            if (s.peek() == '}' || s.peek() == ']') {
                s.advance();
                close();
            } else if (c == '{') {
                if (!read_key(stack.back())) return index;
                continue;
            } else {
                next_element(stack.back());
                key_at = s.here();
                continue;
            }
        } else if (c == '"') {
            s.skip_string();
        } else {
            s.skip_scalar();
        }
        // After a value: close containers until one continues with ','.
        for (;;) {
            s.skip_whitespace();
            if (stack.empty()) return index;
            Frame& frame = stack.back();
            char d = s.peek();
            if (d == ',') {
                s.advance();
                if (frame.object) {
                    if (!read_key(frame)) return index;
                } else {
                    s.skip_whitespace();
                    next_element(frame);
                    key_at = s.here();
                }
                break;
            }
            if (d == '}' || d == ']') {
                s.advance();
                close();
                continue;
            }
            return index;  // not JSON after all: keep what is known
        }
    }
    return index;
}

PositionIndex::Id PositionIndex::child(Id parent, std::string_view token) const {
    if (auto array = elements_.find(parent); array != elements_.end()) {
        if (token.empty() || token.size() > 9 || token.find_first_not_of("0123456789") != std::string_view::npos) {
            return k_none;
        }
        std::size_t i = std::stoul(std::string(token));
        return i < array->second.size() ? array->second[i] : k_none;
    }
    std::string key;
    for (std::size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
            key += token[++i] == '0' ? '~' : '/';
        } else {
            key += token[i];
        }
    }
    auto it = members_.find(member_key(parent, key));
    return it == members_.end() ? k_none : it->second;
}

const PositionIndex::Entry* PositionIndex::find(std::string_view pointer, bool& exact) const {
    exact = false;
    if (entries_.empty()) return nullptr;
    Id at = 0;
    while (!pointer.empty()) {
        // pointer starts with '/': the next token runs to the following '/'.
        std::size_t end = pointer.find('/', 1);
        std::string_view token = pointer.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
        Id next = child(at, token);
        if (next == k_none) return &entries_[at];
        at = next;
        pointer = end == std::string_view::npos ? std::string_view{} : pointer.substr(end);
    }
    exact = true;
    return &entries_[at];
}

TextPosition PositionIndex::value(std::string_view pointer) const {
    bool exact = false;
    const Entry* e = find(pointer, exact);
    return e ? e->value : TextPosition{};
}

TextPosition PositionIndex::key(std::string_view pointer) const {
    bool exact = false;
    const Entry* e = find(pointer, exact);
    if (e == nullptr) return {};
    return exact ? e->key : e->value;
}

TextPosition PositionIndex::position_of(std::string_view text, std::size_t offset) {
    if (offset > text.size()) offset = text.size();
    TextPosition pos{1, 1};
    for (std::size_t i = 0; i < offset; ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c == '\n') {
            ++pos.line;
            pos.column = 1;
        } else if ((c & 0xC0) != 0x80) {
            ++pos.column;
        }
    }
    return pos;
}

}  // namespace sb::config
