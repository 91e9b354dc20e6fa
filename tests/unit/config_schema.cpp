// config/switchboard.schema.json must stay true to the parser: every shipped
// config passes both, both know the same keys and enumerated values, both
// reject an unknown key at every level, and both judge sample values alike.
//
// The schema is checked with a small validator for the keywords it uses; a
// keyword the validator does not know fails the test, so the schema cannot
// quietly grow rules nothing here checks.

// GCC 12 reports a false "may be used uninitialized" inside std::regex's
// std::function when sanitizers are on; the pragma must precede the
// standard headers to cover their instantiations.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/keys.hpp"
#include "switchboard/config/load.hpp"

using nlohmann::json;
namespace cfg = sb::config;
namespace keys = sb::config::keys;

namespace {

const std::string k_root = SB_SOURCE_ROOT;
const std::string k_schema_path = k_root + "/config/switchboard.schema.json";

json read_json(const std::string& path) {
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot open " << path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return json::parse(buffer.str());
}

class Schema {
public:
    explicit Schema(json root) : root_(std::move(root)) {}

    [[nodiscard]] const json& root() const { return root_; }

    // "#/$defs/service" -> that subschema, following $ref.
    [[nodiscard]] const json& at(const std::string& ref) const {
        REQUIRE_MESSAGE(ref.starts_with("#"), "only local references are supported: " << ref);
        return resolve(root_.at(json::json_pointer(ref.substr(1))));
    }

    [[nodiscard]] const json& resolve(const json& schema) const {
        const json* s = &schema;
        for (int hops = 0; s->is_object() && s->contains("$ref"); ++hops) {
            REQUIRE(hops < 16);
            std::string ref = s->at("$ref").get<std::string>();
            REQUIRE_MESSAGE(ref.starts_with("#"), "only local references are supported: " << ref);
            s = &root_.at(json::json_pointer(ref.substr(1)));
        }
        return *s;
    }

    [[nodiscard]] std::vector<std::string> validate(const json& instance) const {
        std::vector<std::string> problems;
        check(instance, root_, "", problems);
        return problems;
    }

    // Every keyword used anywhere in the schema.
    void keywords(const json& schema, std::set<std::string>& out) const {
        if (!schema.is_object()) return;
        for (const auto& [k, v] : schema.items()) {
            out.insert(k);
            if (k == "properties" || k == "$defs" || k == "dependentSchemas" || k == "patternProperties") {
                for (const auto& [name, sub] : v.items()) keywords(sub, out);
            } else if (k == "oneOf" || k == "anyOf" || k == "allOf" || k == "prefixItems") {
                for (const auto& sub : v) keywords(sub, out);
            } else if (k == "items" || k == "additionalProperties" || k == "propertyNames") {
                keywords(v, out);
            }
        }
    }

private:
    static bool has_type(const json& v, const std::string& type) {
        if (type == "object") return v.is_object();
        if (type == "array") return v.is_array();
        if (type == "string") return v.is_string();
        if (type == "boolean") return v.is_boolean();
        if (type == "null") return v.is_null();
        if (type == "number") return v.is_number();
        if (type == "integer") {
            return v.is_number_integer() || (v.is_number_float() && v.get<double>() == static_cast<double>(
                                                                         static_cast<long long>(v.get<double>())));
        }
        FAIL("unknown type " << type);
        return false;
    }

    static std::size_t characters(const std::string& s) {
        std::size_t n = 0;
        for (unsigned char c : s) n += (c & 0xC0) != 0x80;
        return n;
    }

    void check(const json& v, const json& raw, const std::string& where, std::vector<std::string>& problems) const {
        if (raw.is_boolean()) {
            if (!raw.get<bool>()) problems.push_back(where + ": not allowed");
            return;
        }
        const json& s = resolve(raw);
        auto fail = [&](const std::string& why) { problems.push_back((where.empty() ? "/" : where) + ": " + why); };
        if (s.contains("type")) {
            bool ok = false;
            if (s["type"].is_array()) {
                for (const auto& t : s["type"]) ok = ok || has_type(v, t.get<std::string>());
            } else {
                ok = has_type(v, s["type"].get<std::string>());
            }
            if (!ok) return fail("is not of type " + s["type"].dump());
        }
        if (s.contains("enum")) {
            bool found = false;
            for (const auto& e : s["enum"]) found = found || e == v;
            if (!found) fail(v.dump() + " is not one of " + s["enum"].dump());
        }
        if (s.contains("const") && s["const"] != v) fail(v.dump() + " is not " + s["const"].dump());
        if (v.is_string()) {
            const auto& str = v.get_ref<const std::string&>();
            if (s.contains("pattern") && !std::regex_search(str, std::regex(s["pattern"].get<std::string>()))) {
                fail(v.dump() + " does not match " + s["pattern"].get<std::string>());
            }
            if (s.contains("minLength") && characters(str) < s["minLength"].get<std::size_t>()) fail("too short");
            if (s.contains("maxLength") && characters(str) > s["maxLength"].get<std::size_t>()) fail("too long");
        }
        if (v.is_number()) {
            double d = v.get<double>();
            if (s.contains("minimum") && d < s["minimum"].get<double>()) fail("below minimum");
            if (s.contains("maximum") && d > s["maximum"].get<double>()) fail("above maximum");
            if (s.contains("exclusiveMinimum") && d <= s["exclusiveMinimum"].get<double>()) fail("not above minimum");
        }
        if (v.is_array()) {
            if (s.contains("minItems") && v.size() < s["minItems"].get<std::size_t>()) fail("too few items");
            if (s.contains("maxItems") && v.size() > s["maxItems"].get<std::size_t>()) fail("too many items");
            std::size_t prefix = 0;
            if (s.contains("prefixItems")) {
                prefix = s["prefixItems"].size();
                for (std::size_t i = 0; i < prefix && i < v.size(); ++i) {
                    check(v[i], s["prefixItems"][i], where + "/" + std::to_string(i), problems);
                }
            }
            if (s.contains("items")) {
                for (std::size_t i = prefix; i < v.size(); ++i) {
                    check(v[i], s["items"], where + "/" + std::to_string(i), problems);
                }
            }
        }
        if (v.is_object()) {
            if (s.contains("required")) {
                for (const auto& r : s["required"]) {
                    if (!v.contains(r.get<std::string>())) fail("missing " + r.dump());
                }
            }
            for (const auto& [key, value] : v.items()) {
                std::string at = where + "/" + key;
                if (s.contains("propertyNames")) check(key, s["propertyNames"], at, problems);
                bool matched = false;
                if (s.contains("properties") && s["properties"].contains(key)) {
                    matched = true;
                    check(value, s["properties"][key], at, problems);
                }
                if (s.contains("patternProperties")) {
                    for (const auto& [pattern, sub] : s["patternProperties"].items()) {
                        if (std::regex_search(key, std::regex(pattern))) {
                            matched = true;
                            check(value, sub, at, problems);
                        }
                    }
                }
                if (!matched && s.contains("additionalProperties")) check(value, s["additionalProperties"], at, problems);
            }
            if (s.contains("dependentSchemas")) {
                for (const auto& [key, sub] : s["dependentSchemas"].items()) {
                    if (v.contains(key)) check(v, sub, where, problems);
                }
            }
        }
        auto branches = [&](const char* keyword) {
            std::size_t passing = 0;
            for (const auto& sub : s[keyword]) {
                std::vector<std::string> p;
                check(v, sub, where, p);
                passing += p.empty();
            }
            return passing;
        };
        if (s.contains("oneOf") && branches("oneOf") != 1) fail("matches " + std::to_string(branches("oneOf")) + " of oneOf");
        if (s.contains("anyOf") && branches("anyOf") == 0) fail("matches nothing of anyOf");
        if (s.contains("allOf") && branches("allOf") != s["allOf"].size()) fail("fails allOf");
    }

    json root_;
};

const Schema& schema() {
    static const Schema s(read_json(k_schema_path));
    return s;
}

template <typename Keys>
std::set<std::string> as_set(const Keys& list) {
    return {list.begin(), list.end()};
}

std::set<std::string> property_names(const json& object_schema) {
    std::set<std::string> out;
    REQUIRE(object_schema.contains("properties"));
    for (const auto& [k, v] : object_schema["properties"].items()) out.insert(k);
    return out;
}

std::string joined(const std::set<std::string>& s) {
    std::string out;
    for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
    return out;
}

cfg::LoadResult parse(const std::string& text) {
    cfg::LoadOptions options;
    options.check_system = false;
    return cfg::load_text(text, "/virtual/schema-test.json", options);
}

std::string errors_of(const cfg::LoadResult& r) {
    std::string out;
    for (const auto& e : r.errors) out += e.to_string() + "\n";
    return out;
}

std::string problems_of(const std::vector<std::string>& p) {
    std::string out;
    for (const auto& x : p) out += x + "\n";
    return out;
}

}  // namespace

TEST_CASE("the schema uses only keywords this test can check") {
    const std::set<std::string> understood = {
        // assertions
        "$ref", "type", "enum", "const", "pattern", "minimum", "maximum", "exclusiveMinimum", "minLength",
        "maxLength", "minItems", "maxItems", "required", "properties", "patternProperties", "additionalProperties",
        "propertyNames", "items", "prefixItems", "oneOf", "anyOf", "allOf", "dependentSchemas",
        // annotations
        "$schema", "$id", "$defs", "title", "description", "default"};
    std::set<std::string> used;
    schema().keywords(schema().root(), used);
    std::set<std::string> unknown;
    for (const auto& k : used) {
        if (!understood.contains(k)) unknown.insert(k);
    }
    CHECK_MESSAGE(unknown.empty(), "teach the validator in this test: " << joined(unknown));
    CHECK(schema().root()["$schema"] == "https://json-schema.org/draft/2020-12/schema");
}

TEST_CASE("every shipped config is accepted by the parser and by the schema") {
    std::size_t checked = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(k_root + "/config")) {
        const std::string path = entry.path().string();
        if (!entry.is_regular_file() || entry.path().extension() != ".json" || path == k_schema_path) continue;
        if (path.find("/examples/monitoring/") != std::string::npos) continue;  // Grafana's, not ours
        INFO(path);
        cfg::LoadOptions options;
        options.check_system = false;  // example users and programs need not exist here
        auto result = cfg::load_file(path, options);
        CHECK_MESSAGE(result.errors.empty(), errors_of(result));
        auto problems = schema().validate(read_json(path));
        CHECK_MESSAGE(problems.empty(), problems_of(problems));
        ++checked;
    }
    CHECK(checked >= 9);  // config/switchboard.json and the examples, includes among them
}

TEST_CASE("the schema and the parser know the same keys") {
    struct Place {
        const char* schema_ref;
        std::set<std::string> parser_keys;
    };
    std::set<std::string> service = as_set(keys::service);
    const Place places[] = {
        {"#", as_set(keys::top)},
        {"#/$defs/control", as_set(keys::control)},
        {"#/$defs/metrics", as_set(keys::metrics)},
        {"#/$defs/log", as_set(keys::log)},
        {"#/$defs/limits", as_set(keys::limits)},
        {"#/$defs/defaults", as_set(keys::admission)},
        {"#/$defs/service", service},
        {"#/$defs/socket", as_set(keys::socket)},
        {"#/$defs/exec", as_set(keys::exec)},
        {"#/$defs/redirect", as_set(keys::redirect)},
        {"#/$defs/proxy_accept", as_set(keys::proxy_accept)},
        {"#/$defs/rlimits", as_set(keys::rlimits)},
        {"#/$defs/rate", as_set(keys::rate)},
        {"#/$defs/source_prefix", as_set(keys::source_prefix)},
        {"#/$defs/timeouts", as_set(keys::timeouts)},
        {"#/$defs/banner_file", as_set(keys::banner_file)},
    };
    for (const Place& place : places) {
        INFO(place.schema_ref);
        const json& s = schema().at(place.schema_ref);
        CHECK(joined(property_names(s)) == joined(place.parser_keys));
        CHECK(s["additionalProperties"] == false);
    }
    // Every object in the schema with fixed properties is one of the places
    // above, so a new object cannot be added to one side only.
    std::size_t closed_objects = 0;
    for (const auto& [name, def] : schema().root()["$defs"].items()) {
        if (def.contains("properties")) ++closed_objects;
    }
    CHECK(closed_objects + 1 == std::size(places));
}

TEST_CASE("the schema and the parser know the same enumerated values") {
    auto enum_of = [](const char* ref) {
        std::set<std::string> out;
        for (const auto& v : schema().at(ref)["enum"]) out.insert(v.get<std::string>());
        return out;
    };
    CHECK(enum_of("#/$defs/service/properties/builtin") == as_set(keys::builtins));
    CHECK(enum_of("#/$defs/exec/properties/io") == as_set(keys::io_modes));
    CHECK(enum_of("#/$defs/exec/properties/fds") == as_set(keys::fd_styles));
    CHECK(enum_of("#/$defs/defaults/properties/on_limit") == as_set(keys::on_limit));
    CHECK(enum_of("#/$defs/service/properties/on_limit") == as_set(keys::on_limit));
    CHECK(enum_of("#/$defs/log/properties/format") == as_set(keys::log_formats));
    CHECK(enum_of("#/$defs/log/properties/level") == as_set(keys::log_levels));
}

TEST_CASE("an unknown key is rejected by both, at every level") {
    const std::string svc = R"("services": {"s": {"listen": "tcp://*:1", )";
    const std::string exec = svc + R"("exec": {"argv": ["/bin/cat"], )";
    // '@' marks where the unknown key goes.
    const std::vector<std::string> templates = {
        R"({"watch": true, @})",
        R"({"control": {"mode": "0600", @}})",
        R"({"log": {"level": "info", @}})",
        R"({"limits": {"max_children": 1, @}})",
        R"({"defaults": {"per_source": 1, @}})",
        "{" + svc + R"("builtin": "echo", @}}})",
        "{" + svc + R"("builtin": "echo", "socket": {"backlog": 5, @}}}})",
        "{" + exec + R"(@}}}})",
        "{" + exec + R"("rlimits": {"nofile": 5, @}}}}})",
        "{" + svc + R"("builtin": "echo", "rate": {"per_second": 1, @}}}})",
        "{" + svc + R"("builtin": "echo", "source_rate": {"per_second": 1, @}}}})",
        "{" + svc + R"("builtin": "echo", "source_prefix": {"ipv4": 24, @}}}})",
        "{" + svc + R"("builtin": "echo", "timeouts": {"idle": 1, @}}}})",
        "{" + svc + R"("builtin": "echo", "banner": {"file": "x.txt", @}}}})",
        R"({"defaults": {"banner_fail": {"file": "x.txt", @}}})",
    };
    for (const std::string& t : templates) {
        std::string clean = t;
        clean.replace(clean.find(", @"), 3, "");
        std::string bogus = t;
        bogus.replace(bogus.find('@'), 1, R"("bogus_key": 1)");
        INFO(bogus);
        // Without the key both accept it, so the key alone is what they reject.
        auto accepted = parse(clean);
        CHECK_MESSAGE(accepted.errors.empty(), errors_of(accepted));
        auto clean_problems = schema().validate(json::parse(clean));
        CHECK_MESSAGE(clean_problems.empty(), problems_of(clean_problems));

        auto rejected = parse(bogus);
        REQUIRE(rejected.errors.size() == 1);
        CHECK(rejected.errors[0].message.starts_with("unknown key \"bogus_key\""));
        CHECK_FALSE(schema().validate(json::parse(bogus)).empty());
    }
}

TEST_CASE("the schema and the parser judge values alike") {
    struct Sample {
        std::string text;
        bool valid;
    };
    auto service = [](const std::string& keys) {
        return R"({"services": {"s": {"listen": "tcp://*:1", )" + keys + "}}}";
    };
    auto exec = [&](const std::string& keys) { return service(R"("exec": {"argv": ["/bin/cat"])" + keys + "}"); };
    const std::vector<Sample> samples = {
        {service(R"("builtin": "echo", "timeouts": {"idle": "250ms"})"), true},
        {service(R"("builtin": "echo", "timeouts": {"idle": 1.5})"), true},
        {service(R"("builtin": "echo", "timeouts": {"idle": "5x"})"), false},
        {service(R"("builtin": "echo", "timeouts": {"idle": "1.s"})"), false},
        {service(R"("builtin": "echo", "timeouts": {"idle": -1})"), false},
        {service(R"("builtin": "echo", "timeouts": {"idle": true})"), false},
        {exec(R"(, "rlimits": {"as": "1G"})"), true},
        {exec(R"(, "rlimits": {"as": "1.5k"})"), true},
        {exec(R"(, "rlimits": {"as": "10MB"})"), false},
        {exec(R"(, "rlimits": {"as": -1})"), false},
        {exec(R"(, "rlimits": {"nofile": [1, "unlimited"]})"), true},
        {exec(R"(, "rlimits": {"nofile": [1, 2, 3]})"), false},
        {exec(R"(, "rlimits": {"nofile": "1K"})"), false},
        {exec(R"(, "rlimits": {"cpu": "1h"})"), true},
        {exec(R"(, "umask": "0022")"), true},
        {exec(R"(, "umask": "0999")"), false},
        {exec(R"(, "umask": 22)"), false},
        {exec(R"(, "nice": 19)"), true},
        {exec(R"(, "nice": 20)"), false},
        {exec(R"(, "env": {"A_1": "x"})"), true},
        {exec(R"(, "env": {"A-1": "x"})"), false},
        {exec(R"(, "env": {"A": 1})"), false},
        {exec(R"(, "pass_env": ["1A"])"), false},
        {exec(R"(, "fds": "systemd")"), false},
        {exec(R"(, "fds": "systemd", "wait": true)"), true},
        {exec(R"(, "user": 1000, "group": "staff")"), true},
        {exec(R"(, "user": "")"), false},
        {exec(R"(, "user": -1)"), false},
        {exec(R"(, "cwd": "srv")"), false},
        {service(R"("exec": {"argv": ["cat"]})"), false},
        {service(R"("exec": {"argv": []})"), false},
        {service(R"("exec": {"io": "socket"})"), false},
        {service(R"("builtin": "ecoh")"), false},
        {service(R"("builtin": "echo", "exec": {"argv": ["/bin/cat"]})"), false},
        {service(R"("enabled": false)"), false},
        {service(R"("builtin": "echo", "max_connections": 4294967295)"), true},
        {service(R"("builtin": "echo", "max_connections": 4294967296)"), false},
        {service(R"("builtin": "echo", "max_connections": 2.5)"), false},
        {service(R"("builtin": "echo", "on_limit": "drop")"), false},
        {service(R"("builtin": "echo", "rate": {"per_second": 0})"), false},
        {service(R"("builtin": "echo", "rate": {"per_second": 1, "burst": 0.5})"), false},
        {service(R"("builtin": "echo", "rate": {"burst": 5})"), false},
        {service(R"("builtin": "echo", "source_prefix": {"ipv6": 129})"), false},
        {service(R"("builtin": "echo", "banner": {"file": "x"})"), true},
        {service(R"("builtin": "echo", "banner": 5)"), false},
        {service(R"("builtin": "echo", "allow": "10.0.0.0/8")"), false},
        {service(R"("builtin": "echo", "socket": {"backlog": 0})"), false},
        {service(R"("builtin": "echo", "socket": {"v6only": "yes"})"), false},
        {R"({"services": {"s": {"listen": [], "builtin": "echo"}}})", false},
        {R"({"services": {"s": {"listen": ["tcp://127.0.0.1:7", "udp://[::1]:7"], "builtin": "echo"}}})", true},
        {R"({"services": {"s": {"listen": "unix:@name", "builtin": "echo"}}})", true},
        {R"({"services": {"s": {"listen": "unix:run/x", "builtin": "echo"}}})", false},
        {R"({"services": {"s": {"listen": "tcp://localhost:7", "builtin": "echo"}}})", false},
        {R"({"services": {"s": {"listen": "127.0.0.1:7", "builtin": "echo"}}})", false},
        {R"({"services": {"s": {"listen": "tcp://127.0.0.1", "builtin": "echo"}}})", false},
        {R"({"services": {"a b": {"listen": "tcp://*:1", "builtin": "echo"}}})", false},
        {R"({"services": {"-a": {"listen": "tcp://*:1", "builtin": "echo"}}})", false},
        {R"({"services": {"a.b_c-1": {"listen": "tcp://*:1", "builtin": "echo"}}})", true},
        {R"({"services": []})", false},
        {R"({"control": {"tcp": "tcp://127.0.0.1:7070"}})", true},
        {R"({"control": {"tcp": "tcp://[::1]:7070"}})", true},
        {R"({"control": {"tcp": "tcp://0.0.0.0:7070"}})", false},
        {R"({"control": {"tcp": "tcp://*:7070"}})", false},
        {R"({"control": {"socket": ""}})", true},
        {R"({"control": {"socket": "ctl.sock"}})", false},
        {R"({"control": {"group": 0}})", true},
        {R"({"log": {"format": "xml"}})", false},
        {R"({"log": {"file": "log.txt"}})", false},
        {R"({"limits": {"max_children": -1}})", false},
        {R"({"include": "x.json"})", false},
        {R"({"include": [""]})", false},
        {R"({"watch": 1})", false},
        {R"({"shutdown_grace": "2h"})", true},
        {R"({"drain_grace": "soon"})", false},
        {R"({"$schema": "./switchboard.schema.json"})", true},
        {R"([])", false},
    };
    for (const Sample& sample : samples) {
        INFO(sample.text);
        auto result = parse(sample.text);
        CHECK_MESSAGE(result.errors.empty() == sample.valid, errors_of(result));
        auto problems = schema().validate(json::parse(sample.text));
        CHECK_MESSAGE(problems.empty() == sample.valid, problems_of(problems));
    }
}
