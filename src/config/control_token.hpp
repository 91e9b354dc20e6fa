// The control token (control.token_file): the secret a state-changing
// request over the TCP control socket must carry. The server reads it with
// each configuration it loads; `switchboard ctl` reads the same file before
// it sends such a request. Both refuse a file that anyone but root or their
// own user owns, or that its group or others may read or write: a token
// others can read is no secret. Pure functions, any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace sb::config {

inline constexpr std::size_t k_min_token_length = 16;
inline constexpr std::size_t k_max_token_length = 1024;

// The token in `path`: its first line without trailing white space, which
// must be k_min_token_length to k_max_token_length printable ASCII
// characters with no spaces. Nullopt with `error` set (a full sentence that
// names the file and says how to fix it) when the file is unfit.
std::optional<std::string> read_control_token(const std::string& path, std::string& error);

}  // namespace sb::config
