// Reading validated values out of parsed JSON, reporting every problem with
// file, JSON pointer and position.
//
// A Node is a JSON value plus where it came from; its typed readers return
// nullopt after recording an error, so section readers can go on reading the
// next key and the user sees every problem at once. Nothing here throws.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/position_index.hpp"
#include "switchboard/config.hpp"
#include "switchboard/config/load.hpp"

namespace sb::config {

// One configuration file: its parsed JSON and where each value sits. Owned
// by the loader for the whole load; Nodes point into it.
struct Document {
    std::string path;  // absolute
    std::string dir;   // directory of `path`; relative paths in the file start here
    nlohmann::json root;
    PositionIndex positions;
};

// Every error of one load, in the order found. What one load can make it
// hold is bounded, whatever the input: at most k_max_errors errors are
// kept (take() appends one that counts the rest), and pointers and
// messages are cut at k_max_pointer and k_max_message bytes (a long key in
// a large array would otherwise repeat in every error).
class Diagnostics {
public:
    static constexpr std::size_t k_max_errors = 1000;
    static constexpr std::size_t k_max_pointer = 1024;
    static constexpr std::size_t k_max_message = 4096;

    void add(std::string file, std::string pointer, TextPosition at, std::string message);
    // Every error found, kept or not: validity is decided by this count.
    [[nodiscard]] std::size_t count() const { return count_; }
    std::vector<Error> take();

private:
    std::vector<Error> errors_;
    std::size_t count_ = 0;
};

// A JSON pointer as a chain of tokens ("/services", "/git", ...) shared
// with the parent's: a Node per array element costs its own token, never a
// copy of its parent's pointer.
struct PointerPath {
    std::shared_ptr<const PointerPath> parent;
    std::string token;  // "/" + the escaped token
};

class Node {
public:
    Node(const Document& doc, const nlohmann::json& value, std::string pointer, Diagnostics& diag)
        : doc_(&doc),
          value_(&value),
          path_(pointer.empty() ? nullptr : std::make_shared<const PointerPath>(PointerPath{nullptr, pointer})),
          diag_(&diag) {}

    [[nodiscard]] const nlohmann::json& json() const { return *value_; }
    [[nodiscard]] std::string pointer() const;
    [[nodiscard]] const Document& document() const { return *doc_; }
    [[nodiscard]] Diagnostics& diagnostics() const { return *diag_; }
    [[nodiscard]] TextPosition value_position() const { return doc_->positions.value(pointer()); }
    [[nodiscard]] TextPosition key_position() const { return doc_->positions.key(pointer()); }
    // The member name this value is under ("user" for /services/git/exec/user;
    // the array's name for its elements).
    [[nodiscard]] std::string label() const;

    // Children; the key or index must exist.
    [[nodiscard]] Node child(const std::string& key) const;
    [[nodiscard]] Node element(std::size_t index) const;

    // The value as messages show it: numbers in their shortest form.
    [[nodiscard]] std::string shown() const;

    void error(std::string message) const;      // at the value
    void key_error(std::string message) const;  // at the member's key
    // "expected a string, got number"
    void type_error(std::string_view expected) const;

    [[nodiscard]] bool is_object() const { return value_->is_object(); }
    [[nodiscard]] bool is_array() const { return value_->is_array(); }
    [[nodiscard]] bool is_string() const { return value_->is_string(); }
    // Reports a type error unless the value is an array; elements() of a
    // non-array is empty.
    [[nodiscard]] bool expect_array(std::string_view of_what) const;
    [[nodiscard]] std::vector<Node> elements() const;

    // A string without NUL bytes (paths, names, argv).
    [[nodiscard]] std::optional<std::string> string() const;
    // Any string (banner text).
    [[nodiscard]] std::optional<std::string> text() const;
    [[nodiscard]] std::optional<std::string> nonempty_string() const;
    [[nodiscard]] std::optional<bool> boolean() const;
    // Whole numbers in [min, max]; an integral float like 5.0 counts.
    [[nodiscard]] std::optional<std::uint64_t> unsigned_number(std::uint64_t min, std::uint64_t max) const;
    [[nodiscard]] std::optional<std::int64_t> signed_number(std::int64_t min, std::int64_t max) const;
    [[nodiscard]] std::optional<std::uint32_t> count() const;  // 0..2^32-1
    [[nodiscard]] std::optional<double> number() const;
    // A number of seconds, or a string parse_duration accepts.
    [[nodiscard]] std::optional<Duration> duration() const;
    // A number of bytes, or a string parse_size accepts.
    [[nodiscard]] std::optional<std::uint64_t> size() const;
    [[nodiscard]] std::optional<std::string> absolute_path() const;
    // Relative paths are taken from the document's directory.
    [[nodiscard]] std::optional<std::string> path_from_document() const;
    [[nodiscard]] std::optional<mode_t> octal(mode_t max, std::string_view what, std::string_view example) const;
    // One of `names`; reports 'unknown WHAT "x"; did you mean "y"?'.
    [[nodiscard]] std::optional<std::size_t> choice(std::span<const std::string_view> names,
                                                    std::string_view what) const;

private:
    Node(const Node& parent, const nlohmann::json& value, std::string token)
        : doc_(parent.doc_),
          value_(&value),
          path_(std::make_shared<const PointerPath>(PointerPath{parent.path_, std::move(token)})),
          diag_(parent.diag_) {}

    const Document* doc_;
    const nlohmann::json* value_;
    std::shared_ptr<const PointerPath> path_;  // null at the root
    Diagnostics* diag_;
};

// A key that is not allowed here but has an obvious right place: the
// message replaces the generic 'unknown key'.
struct KeyHint {
    std::string_view key;
    std::string_view message;
};

// The members of one JSON object. Construction reports a wrong type, and
// every unknown key (with a suggestion when one is close).
class ObjectReader {
public:
    ObjectReader(const Node& node, std::span<const std::string_view> known, std::span<const KeyHint> hints = {});

    [[nodiscard]] bool valid() const { return node_.is_object(); }
    [[nodiscard]] const Node& node() const { return node_; }
    [[nodiscard]] bool has(const std::string& key) const;
    [[nodiscard]] std::optional<Node> get(const std::string& key) const;

private:
    Node node_;
};

// '"a", "b" or "c"'
std::string one_of(std::span<const std::string_view> names);

}  // namespace sb::config
