// The readers of each part of the configuration, shared by the loader.
//
// Each reader records its errors in the Node's Diagnostics and keeps going;
// a reader that returns a value may still have recorded errors, so the
// loader decides validity by the error count alone.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/accounts.hpp"
#include "config/reader.hpp"

namespace sb::config {

// What every reader of one load shares.
struct LoadContext {
    LoadOptions options;
    Accounts accounts;
};

// Server-wide settings (settings.cpp).
void read_control(const Node& node, Control& into, LoadContext& context);
void read_log(const Node& node, Log& into);
// Returns the "listen" node when it was read without error, for the
// address conflict check.
std::optional<Node> read_metrics(const Node& node, Metrics& into);
void read_limits(const Node& node, Limits& into);

// The admission and timeout keys, as "defaults" or a service sets them
// (admission.cpp). Reading overwrites only what the object names, so a
// service's keys are read over a copy of the defaults; "timeouts" and
// "source_prefix" merge field by field, every other key replaces.
struct AdmissionSettings {
    Admission admission;
    Timeouts timeouts;
    std::set<std::string, std::less<>> keys;  // the keys the object gave
    bool idle_given = false;                   // "timeouts" had "idle"
};
void read_admission(const ObjectReader& object, AdmissionSettings& into, LoadContext& context);

// exec (exec.cpp).
std::optional<Exec> read_exec(const Node& node, LoadContext& context);
// An array of CIDRs (admission.cpp).
std::vector<net::Cidr> read_cidrs(const Node& node);
// A service's "proxy_protocol" (redirect.cpp).
std::optional<ProxyAccept> read_proxy_accept(const Node& node);
// redirect (redirect.cpp).
std::optional<Redirect> read_redirect(const Node& node);

// Users and groups, by name or number (accounts.cpp). nullopt after an
// error, or when a name is unknown and check_system is off.
std::optional<uid_t> read_uid(const Node& node, LoadContext& context);
std::optional<gid_t> read_gid(const Node& node, LoadContext& context);
Credentials read_credentials(const std::optional<Node>& user, const std::optional<Node>& group,
                             LoadContext& context);

// One "listen" entry, kept with its source for conflict messages.
struct ListenSite {
    std::string service;  // empty: the metrics listener
    Node node;
    Listen listen;
};

// A service (service.cpp); nullopt when it has errors. Its listen entries
// are appended to `sites` even then, so address conflicts are reported in
// the same run.
std::optional<Service> read_service(const Node& node, const std::string& name, const AdmissionSettings& defaults,
                                    LoadContext& context, std::vector<ListenSite>& sites);

// UNIX socket paths (socket_paths.cpp). A socket whose directory another
// user owns, or may write to without a sticky bit, is an error (checked
// only with check_system). An abstract socket cannot have a mode, owner or
// group: giving one is an error that points to peer_uids and peer_gids.
void check_socket_directory(const Node& node, const std::string& path, const LoadContext& context);
void check_abstract_socket_options(const Node& socket, const std::vector<Listen>& listen);

// Reports every listen entry that would bind an address another entry
// already binds (conflicts.cpp).
void check_conflicts(const std::vector<ListenSite>& sites);

// Whole files, refusing anything but regular files of at most max_bytes
// (document.cpp). On failure returns nullopt and sets `error` ("No such file
// or directory"). `info`, if given, receives the file's fstat().
std::optional<std::string> read_file(const std::string& path, std::size_t max_bytes, std::string& error,
                                     struct stat* info = nullptr);

// Parses one file's text; malformed JSON and duplicate keys become errors.
// Returns nullptr only when the text is not JSON at all.
std::unique_ptr<Document> parse_document(std::string_view text, const std::string& path, Diagnostics& diag);

}  // namespace sb::config
