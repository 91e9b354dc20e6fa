// Typed reads from JSON values; every failure becomes one Error.
#include "config/reader.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "config/suggest.hpp"
#include "config/units.hpp"
#include "net/quote.hpp"

namespace sb::config {

using net::quote;

namespace {

// Error text must stay valid UTF-8 (it is written into JSON by the control
// socket); nlohmann's parse messages quote raw input bytes.
std::string valid_utf8(std::string_view s) {
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size() && !(len == 2 && c < 0xC2) && !(len == 4 && c > 0xF4);
        for (std::size_t k = 1; ok && k < len; ++k) {
            ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        }
        if (ok && len == 3) {
            auto c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, surrogates
        }
        if (ok && len == 4) {
            auto c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
        }
        if (!ok) {
            out += "\\x";
            out += k_hex[c >> 4];
            out += k_hex[c & 0xf];
            ++i;
            continue;
        }
        if (len == 1 && (c < 0x20 || c == 0x7f)) {
            out += ' ';  // one error, one line
        } else {
            out.append(s.substr(i, len));
        }
        i += len;
    }
    return out;
}

std::string unescape_token(std::string_view token) {
    std::string out;
    for (std::size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '~' && i + 1 < token.size()) {
            out += token[i + 1] == '1' ? '/' : '~';
            ++i;
        } else {
            out += token[i];
        }
    }
    return out;
}

bool is_integral(double d) { return std::isfinite(d) && std::floor(d) == d; }

// Numbers in messages: integers exactly, floats in their shortest form
// ("1e+23", where nlohmann would write 9.999999999999999e+22).
std::string number_text(const nlohmann::json& v) {
    if (!v.is_number_float()) return v.dump();
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get<double>());
    return ec == std::errc{} ? std::string(buf, end) : v.dump();
}

std::string range_text(std::int64_t min, std::int64_t max) {
    if (min < 0) return "from " + std::to_string(min) + " to " + std::to_string(max);
    return std::to_string(min) + "-" + std::to_string(max);
}

}  // namespace

// At most `max` bytes of `s`, cut at a character boundary, "…" marking a cut.
std::string cut(std::string s, std::size_t max) {
    if (s.size() <= max) return s;
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
    s.resize(end);
    return s + "\u2026";
}

void Diagnostics::add(std::string file, std::string pointer, TextPosition at, std::string message) {
    if (++count_ > k_max_errors) return;
    errors_.push_back(Error{std::move(file), valid_utf8(cut(std::move(pointer), k_max_pointer)), at.line, at.column,
                            valid_utf8(cut(std::move(message), k_max_message))});
}

std::vector<Error> Diagnostics::take() {
    std::vector<Error> out = std::move(errors_);
    if (count_ > k_max_errors) {
        out.push_back(Error{"", "", 0, 0,
                            std::to_string(count_ - k_max_errors) + " more errors not shown (at most " +
                                std::to_string(k_max_errors) + " are listed)"});
    }
    errors_.clear();
    count_ = 0;
    return out;
}

std::string Node::pointer() const {
    std::vector<const std::string*> tokens;
    std::size_t size = 0;
    for (const PointerPath* p = path_.get(); p != nullptr; p = p->parent.get()) {
        tokens.push_back(&p->token);
        size += p->token.size();
    }
    std::string out;
    out.reserve(size);
    for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) out += **it;
    return out;
}

std::string Node::label() const {
    for (const PointerPath* p = path_.get(); p != nullptr; p = p->parent.get()) {
        std::string_view token = std::string_view(p->token).substr(1);
        bool index = !token.empty() && token.find_first_not_of("0123456789") == std::string_view::npos;
        if (!index) return unescape_token(token);
    }
    return "value";
}

Node Node::child(const std::string& key) const { return Node(*this, value_->at(key), pointer_token(key)); }

Node Node::element(std::size_t index) const { return Node(*this, value_->at(index), "/" + std::to_string(index)); }

std::string Node::shown() const {
    if (value_->is_number()) return number_text(*value_);
    return value_->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Node::error(std::string message) const {
    diag_->add(doc_->path, pointer(), value_position(), std::move(message));
}

void Node::key_error(std::string message) const {
    diag_->add(doc_->path, pointer(), key_position(), std::move(message));
}

void Node::type_error(std::string_view expected) const {
    error("expected " + std::string(expected) + ", got " + value_->type_name());
}

bool Node::expect_array(std::string_view of_what) const {
    if (value_->is_array()) return true;
    type_error(of_what);
    return false;
}

std::vector<Node> Node::elements() const {
    std::vector<Node> out;
    if (!value_->is_array()) return out;
    out.reserve(value_->size());
    for (std::size_t i = 0; i < value_->size(); ++i) out.push_back(element(i));
    return out;
}

std::optional<std::string> Node::text() const {
    if (!value_->is_string()) {
        type_error("a string");
        return std::nullopt;
    }
    return value_->get<std::string>();
}

std::optional<std::string> Node::string() const {
    auto s = text();
    if (s && s->find('\0') != std::string::npos) {
        error(label() + " must not contain a NUL byte");
        return std::nullopt;
    }
    return s;
}

std::optional<std::string> Node::nonempty_string() const {
    auto s = string();
    if (s && s->empty()) {
        error(label() + " must not be empty");
        return std::nullopt;
    }
    return s;
}

std::optional<bool> Node::boolean() const {
    if (!value_->is_boolean()) {
        type_error("true or false");
        return std::nullopt;
    }
    return value_->get<bool>();
}

std::optional<std::int64_t> Node::signed_number(std::int64_t min, std::int64_t max) const {
    const auto& v = *value_;
    if (!v.is_number()) {
        type_error("a whole number");
        return std::nullopt;
    }
    auto out_of_range = [&] {
        error(label() + " " + number_text(v) + " is out of range " + range_text(min, max));
        return std::nullopt;
    };
    if (v.is_number_unsigned()) {
        auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(max)) return out_of_range();
        return static_cast<std::int64_t>(u);
    }
    std::int64_t i = 0;
    if (v.is_number_integer()) {
        i = v.get<std::int64_t>();
    } else {
        double d = v.get<double>();
        if (!is_integral(d)) {
            error("expected a whole number, got " + number_text(v));
            return std::nullopt;
        }
        if (d < static_cast<double>(min) || d > static_cast<double>(max)) return out_of_range();
        i = static_cast<std::int64_t>(d);
    }
    if (i < min || i > max) return out_of_range();
    return i;
}

std::optional<std::uint64_t> Node::unsigned_number(std::uint64_t min, std::uint64_t max) const {
    const auto& v = *value_;
    if (!v.is_number()) {
        type_error("a whole number");
        return std::nullopt;
    }
    auto out_of_range = [&] {
        std::string range = std::to_string(min) + "-" + std::to_string(max);
        error(label() + " " + number_text(v) + " is out of range " + range);
        return std::nullopt;
    };
    std::uint64_t u = 0;
    if (v.is_number_unsigned()) {
        u = v.get<std::uint64_t>();
    } else if (v.is_number_integer()) {
        return out_of_range();  // negative: unsigned values are parsed as unsigned
    } else {
        double d = v.get<double>();
        if (!is_integral(d)) {
            error("expected a whole number, got " + number_text(v));
            return std::nullopt;
        }
        // 2^64 and above (and negatives) cannot be converted.
        if (d < 0 || d >= 18446744073709551616.0) return out_of_range();
        u = static_cast<std::uint64_t>(d);
    }
    if (u < min || u > max) return out_of_range();
    return u;
}

std::optional<std::uint32_t> Node::count() const {
    auto u = unsigned_number(0, std::numeric_limits<std::uint32_t>::max());
    if (!u) return std::nullopt;
    return static_cast<std::uint32_t>(*u);
}

std::optional<double> Node::number() const {
    if (!value_->is_number()) {
        type_error("a number");
        return std::nullopt;
    }
    return value_->get<double>();
}

std::optional<Duration> Node::duration() const {
    std::string why;
    std::optional<Duration> d;
    if (value_->is_number()) {
        d = duration_from_seconds(value_->get<double>(), number_text(*value_), why);
    } else if (value_->is_string()) {
        d = parse_duration(value_->get_ref<const std::string&>(), why);
    } else {
        type_error("a duration (a number of seconds or a string like \"30s\")");
        return std::nullopt;
    }
    if (!d) error(why);
    return d;
}

std::optional<std::uint64_t> Node::size() const {
    if (value_->is_number()) return unsigned_number(0, std::numeric_limits<std::uint64_t>::max());
    if (!value_->is_string()) {
        type_error("a size (a number of bytes or a string like \"64K\")");
        return std::nullopt;
    }
    std::string why;
    auto s = parse_size(value_->get_ref<const std::string&>(), why);
    if (!s) error(why);
    return s;
}

std::optional<std::string> Node::absolute_path() const {
    auto s = string();
    if (!s) return std::nullopt;
    if (s->empty() || s->front() != '/') {
        error(label() + " must be an absolute path, got " + quote(*s));
        return std::nullopt;
    }
    return s;
}

std::optional<std::string> Node::path_from_document() const {
    auto s = nonempty_string();
    if (!s) return std::nullopt;
    if (s->front() == '/') return s;
    return doc_->dir + "/" + *s;
}

std::optional<mode_t> Node::octal(mode_t max, std::string_view what, std::string_view example) const {
    if (!value_->is_string()) {
        type_error("an octal string like " + quote(example));
        return std::nullopt;
    }
    std::string why;
    auto m = parse_octal(value_->get_ref<const std::string&>(), max, what, example, why);
    if (!m) error(why);
    return m;
}

std::optional<std::size_t> Node::choice(std::span<const std::string_view> names, std::string_view what) const {
    auto s = string();
    if (!s) return std::nullopt;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == *s) return i;
    }
    std::string message = "unknown " + std::string(what) + " " + quote(*s);
    if (auto close = closest_match(*s, names)) {
        message += "; did you mean " + quote(*close) + "?";
    } else {
        message += "; expected " + one_of(names);
    }
    error(std::move(message));
    return std::nullopt;
}

ObjectReader::ObjectReader(const Node& node, std::span<const std::string_view> known, std::span<const KeyHint> hints)
    : node_(node) {
    if (!node_.is_object()) {
        node_.type_error("an object");
        return;
    }
    for (const auto& [key, value] : node_.json().items()) {
        bool is_known = false;
        for (std::string_view k : known) is_known = is_known || k == key;
        if (is_known) continue;
        Node member = node_.child(key);
        bool hinted = false;
        for (const KeyHint& hint : hints) {
            if (hint.key == key) {
                member.key_error(std::string(hint.message));
                hinted = true;
                break;
            }
        }
        if (hinted) continue;
        std::string message = "unknown key " + quote(key);
        if (auto close = closest_match(key, known)) {
            message += "; did you mean " + quote(*close) + "?";
        } else if (known.size() <= 8) {
            message += "; expected " + one_of(known);
        }
        member.key_error(std::move(message));
    }
}

bool ObjectReader::has(const std::string& key) const { return valid() && node_.json().contains(key); }

std::optional<Node> ObjectReader::get(const std::string& key) const {
    if (!has(key)) return std::nullopt;
    return node_.child(key);
}

std::string one_of(std::span<const std::string_view> names) {
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
        out += quote(names[i]);
    }
    return out;
}

}  // namespace sb::config
