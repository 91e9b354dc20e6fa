// Loading: the main file, its includes, and every service in them, into one
// Config or the complete list of errors.
#include "switchboard/config/load.hpp"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>

#include "config/keys.hpp"
#include "config/sections.hpp"
#include "net/quote.hpp"
#include "net/tcpmux_request.hpp"

namespace sb::config {

using net::quote;

namespace {

// What one load may read (README "Security"): memory for a load is linear
// in the bytes read, so these bound it.
constexpr std::size_t k_max_file_size = 16 * 1024 * 1024;
constexpr std::size_t k_max_total_size = 64 * 1024 * 1024;
constexpr std::size_t k_max_included_files = 1000;

std::string too_large(const std::string& why) {
    if (why.starts_with("it is larger than")) {
        return why + ", the most a configuration file may hold (16 MiB)";
    }
    return why;
}

constexpr KeyHint k_defaults_hints[] = {
    {"listen", "\"listen\" cannot be set in \"defaults\"; each service has its own"},
    {"socket", "\"socket\" cannot be set in \"defaults\"; set it in each service"},
    {"builtin", "\"builtin\" cannot be set in \"defaults\"; set it in each service"},
    {"exec", "\"exec\" cannot be set in \"defaults\"; set it in each service"},
    {"redirect", "\"redirect\" cannot be set in \"defaults\"; set it in each service"},
    {"enabled", "\"enabled\" cannot be set in \"defaults\"; set it in each service"},
};

std::string absolute(const std::string& path) {
    std::error_code ec;
    std::filesystem::path p = std::filesystem::absolute(path.empty() ? std::string(".") : path, ec);
    if (ec) p = path;
    return p.lexically_normal().string();
}

std::string directory_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

bool is_directory(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

class Loader {
public:
    explicit Loader(const LoadOptions& options) {
        context_.options = options;
        if (options.offline) {
            context_.options.check_system = false;
            context_.accounts.set_offline();
        }
    }

    LoadResult load(std::string_view text, const std::string& name) {
        config_.file = absolute(name);
        note_file(config_.file);
        const Document* main = add_document(text, config_.file);
        if (main != nullptr) read_main(*main);
        return finish();
    }

    LoadResult load_file(const std::string& path) {
        config_.file = absolute(path);
        note_file(config_.file);
        std::string why;
        auto text = read_file(config_.file, k_max_file_size, why);
        if (!text) {
            diag_.add(config_.file, "", {}, "cannot read the configuration: " + too_large(why));
            return finish();
        }
        total_size_ = text->size();
        const Document* main = add_document(*text, config_.file);
        if (main != nullptr) read_main(*main);
        return finish();
    }

private:
    struct PendingService {
        std::string name;
        Node node;
    };

    void note_file(const std::string& path) {
        if (std::find(config_.files.begin(), config_.files.end(), path) == config_.files.end()) {
            config_.files.push_back(path);
        }
        note_watch_dir(directory_of(path));
    }

    void note_watch_dir(const std::string& dir) {
        if (std::find(config_.watch_dirs.begin(), config_.watch_dirs.end(), dir) == config_.watch_dirs.end()) {
            config_.watch_dirs.push_back(dir);
        }
    }

    // `dir` does not exist yet: watch the nearest ancestor that does, so
    // that creating it (and then files in it) triggers a reload.
    void await_dir(const std::string& dir) {
        if (std::find(config_.awaited_dirs.begin(), config_.awaited_dirs.end(), dir) == config_.awaited_dirs.end()) {
            config_.awaited_dirs.push_back(dir);
        }
        std::string ancestor = directory_of(dir);
        while (ancestor != "/" && !is_directory(ancestor)) ancestor = directory_of(ancestor);
        note_watch_dir(ancestor);
    }

    const Document* add_document(std::string_view text, const std::string& path) {
        auto doc = parse_document(text, path, diag_);
        if (!doc) return nullptr;
        docs_.push_back(std::move(doc));
        return docs_.back().get();
    }

    void read_main(const Document& doc) {
        Node root(doc, doc.root, "", diag_);
        ObjectReader top(root, keys::top);
        if (!top.valid()) return;
        if (auto schema = top.get("$schema")) (void)schema->string();
        if (auto control = top.get("control")) read_control(*control, config_.control, context_);
        std::optional<Node> metrics_listen;
        if (auto metrics = top.get("metrics")) metrics_listen = read_metrics(*metrics, config_.metrics);
        if (auto log = top.get("log")) read_log(*log, config_.log);
        if (auto limits = top.get("limits")) read_limits(*limits, config_.limits);
        if (auto watch = top.get("watch")) config_.watch = watch->boolean().value_or(false);
        if (auto grace = top.get("shutdown_grace")) config_.shutdown_grace = grace->duration().value_or(Duration{});
        if (auto grace = top.get("drain_grace")) config_.drain_grace = grace->duration().value_or(Duration{});
        if (auto defaults = top.get("defaults")) {
            ObjectReader object(*defaults, keys::admission, k_defaults_hints);
            read_admission(object, defaults_, context_);
        }
        if (auto services = top.get("services")) collect_services(*services);
        if (auto include = top.get("include")) read_includes(*include);

        std::vector<ListenSite> sites;
        if (metrics_listen) sites.push_back({"", *metrics_listen, Listen{*config_.metrics.listen, {}}});
        // tcpmux names are compared without regard to case (RFC 1078).
        std::map<std::string, std::string> tcpmux_names;
        for (const PendingService& pending : pending_) {
            auto service = read_service(pending.node, pending.name, defaults_, context_, sites);
            if (!service) continue;
            if (service->tcpmux) {
                auto [it, fresh] = tcpmux_names.try_emplace(net::tcpmux_name_key(service->tcpmux->name), pending.name);
                if (!fresh) {
                    pending.node.child("tcpmux").error("tcpmux name " + quote(service->tcpmux->name) +
                                                       " is already service " + quote(it->second) + "'s");
                    continue;
                }
            }
            config_.services.emplace(pending.name, std::move(*service));
        }
        check_conflicts(sites);
    }

    void collect_services(const Node& services) {
        if (!services.is_object()) {
            services.type_error("an object of service names to services");
            return;
        }
        for (const auto& [name, value] : services.json().items()) {
            Node node = services.child(name);
            auto [it, fresh] = defined_.try_emplace(name, node);
            if (!fresh) {
                const Node& first = it->second;
                TextPosition at = first.key_position();
                node.key_error("service " + quote(name) + " is already defined in " + first.document().path + ":" +
                               std::to_string(at.line) + ":" + std::to_string(at.column));
                continue;
            }
            pending_.push_back(PendingService{name, node});
        }
    }

    void read_includes(const Node& include) {
        if (!include.expect_array("an array of file patterns like \"services.d/*.json\"")) return;
        const std::string& base = include.document().dir;
        for (const Node& entry : include.elements()) {
            auto pattern = entry.nonempty_string();
            if (!pattern) continue;
            std::string full = pattern->front() == '/' ? *pattern : base + "/" + *pattern;
            std::vector<std::string> matches;
            std::size_t magic = full.find_first_of("*?[");
            if (magic == std::string::npos) {
                struct stat st {};
                if (::stat(full.c_str(), &st) != 0) {
                    int err = errno;
                    entry.error("included file " + full +
                                (err == ENOENT ? std::string(" does not exist") : ": " + std::string(std::strerror(err))));
                    continue;
                }
                matches.push_back(absolute(full));
                note_watch_dir(directory_of(matches.back()));
            } else {
                // New files appear in the directory the pattern points into.
                std::string dir = absolute(directory_of(full.substr(0, magic) + "x"));
                if (is_directory(dir)) {
                    note_watch_dir(dir);
                } else {
                    await_dir(dir);
                }
                glob_t g{};
                int rc = ::glob(full.c_str(), 0, nullptr, &g);
                if (rc == 0) {
                    for (std::size_t i = 0; i < g.gl_pathc; ++i) matches.push_back(absolute(g.gl_pathv[i]));
                } else if (rc != GLOB_NOMATCH) {
                    entry.error("cannot expand " + quote(*pattern) + (rc == GLOB_NOSPACE ? ": out of memory" : ""));
                }
                globfree(&g);
            }
            for (const std::string& path : matches) {
                if (!read_included(entry, path)) return;
            }
        }
    }

    // False when no more files may be included.
    bool read_included(const Node& entry, const std::string& path) {
        if (std::find(config_.files.begin(), config_.files.end(), path) != config_.files.end()) {
            return true;  // the main file matching its own pattern, or two patterns matching one file
        }
        if (config_.files.size() > k_max_included_files) {
            entry.error("the include patterns match more than " + std::to_string(k_max_included_files) + " files");
            return false;
        }
        note_file(path);
        std::string why;
        auto text = read_file(path, k_max_file_size, why);
        if (!text) {
            entry.error("cannot read included file " + path + ": " + too_large(why));
            return true;
        }
        total_size_ += text->size();
        if (total_size_ > k_max_total_size) {
            entry.error("the configuration and its included files are larger than " +
                        std::to_string(k_max_total_size) + " bytes together (64 MiB), the most one load reads");
            return false;
        }
        const Document* doc = add_document(*text, path);
        if (doc == nullptr) return true;
        Node root(*doc, doc->root, "", diag_);
        std::vector<std::string> messages;
        for (std::string_view key : keys::top) {
            if (key == "services" || key == "$schema") continue;
            messages.push_back("only \"services\" may appear in an included file; " + quote(key) +
                               " belongs in the main file, " + config_.file);
        }
        std::vector<KeyHint> hints;
        std::size_t i = 0;
        for (std::string_view key : keys::top) {
            if (key == "services" || key == "$schema") continue;
            hints.push_back(KeyHint{key, messages[i++]});
        }
        ObjectReader top(root, keys::included, hints);
        if (auto services = top.get("services")) collect_services(*services);
        return true;
    }

    LoadResult finish() {
        LoadResult result;
        result.errors = diag_.take();
        // Errors read best in file order, then top to bottom.
        auto rank = [&](const Error& e) {
            auto it = std::find(config_.files.begin(), config_.files.end(), e.file);
            return std::tuple(it - config_.files.begin(), e.line, e.column);
        };
        std::stable_sort(result.errors.begin(), result.errors.end(),
                         [&](const Error& a, const Error& b) { return rank(a) < rank(b); });
        if (result.errors.empty()) result.config = std::move(config_);
        return result;
    }

    LoadContext context_;
    std::size_t total_size_ = 0;  // bytes of every file read so far
    Diagnostics diag_;
    Config config_;
    std::vector<std::unique_ptr<Document>> docs_;
    AdmissionSettings defaults_;
    std::map<std::string, Node> defined_;
    std::vector<PendingService> pending_;
};

// Loading must never throw: anything unexpected becomes one more error.
template <typename Run>
LoadResult guarded(const std::string& file, Run&& run) {
    try {
        return run();
    } catch (const std::exception& e) {
        LoadResult result;
        result.errors.push_back(Error{file, "", 0, 0, std::string("internal error while loading: ") + e.what()});
        return result;
    } catch (...) {
        LoadResult result;
        result.errors.push_back(Error{file, "", 0, 0, "internal error while loading"});
        return result;
    }
}

}  // namespace

std::string Error::to_string() const {
    std::string out;
    if (!file.empty()) out = file;
    if (line > 0) {
        out += ":" + std::to_string(line);
        if (column > 0) out += ":" + std::to_string(column);
    }
    if (!out.empty()) out += ": ";
    if (!pointer.empty()) out += pointer + ": ";
    return out + message;
}

LoadResult load_file(const std::string& path, const LoadOptions& options) {
    return guarded(path, [&] { return Loader(options).load_file(path); });
}

LoadResult load_text(std::string_view text, const std::string& name, const LoadOptions& options) {
    return guarded(name, [&] { return Loader(options).load(text, name); });
}

}  // namespace sb::config
