// Replies rendered for people: what `switchboard ctl` prints without
// --json — aligned tables for lists, "key  value" lines for status. Pure
// functions, any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "control/protocol.hpp"

namespace sb::control {

struct Table {
    std::vector<std::string> headers;
    std::vector<bool> numeric;  // right-aligned columns, by index
    std::vector<std::vector<std::string>> rows;
};

// Columns padded to their widest cell and separated by two spaces; numeric
// columns right-aligned; the last column is not padded.
std::string format_table(const Table& table);

// "850ms", "42s", "3m07s", "2h05m", "3d04h".
std::string format_duration(double seconds);

struct HumanReply {
    enum class Verdict {
        ok,         // the server said ok:true
        refused,    // the server said ok:false
        malformed,  // not a reply of this protocol
    };
    Verdict verdict = Verdict::malformed;
    std::string out;  // for stdout
    std::string err;  // for stderr: why it failed

    [[nodiscard]] bool ok() const { return verdict == Verdict::ok; }
};

// Renders the reply line the server sent for `command`.
HumanReply render_human(Command command, std::string_view reply_line);

}  // namespace sb::control
