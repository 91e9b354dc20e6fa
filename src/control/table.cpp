// Human-readable rendering of control replies (see table.hpp).
#include "control/table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace sb::control {
namespace {

using nlohmann::json;

// The value of `key` as display text: strings bare, numbers as JSON writes
// them, null and missing as "-".
std::string text(const json& object, std::string_view key) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return "-";
    if (it->is_string()) return it->get<std::string>();
    return it->dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string joined(const json& object, std::string_view key, std::string_view separator) {
    auto it = object.find(key);
    if (it == object.end() || !it->is_array() || it->empty()) return "-";
    std::string out;
    for (const json& item : *it) {
        if (!out.empty()) out += separator;
        out += item.is_string() ? item.get<std::string>() : item.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    return out;
}

double number(const json& object, std::string_view key) {
    auto it = object.find(key);
    return it != object.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string milliseconds(double ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f ms", ms);
    return buf;
}

std::string render_status(const json& j) {
    const json reloads = j.value("reloads", json::object());
    std::string reload_line = text(reloads, "succeeded") + " ok, " + text(reloads, "failed") + " failed";
    if (number(reloads, "succeeded") + number(reloads, "failed") > 0) {
        reload_line += reloads.value("last_ok", true) ? " (last ok)" : " (last failed)";
    }
    Table t;
    std::vector<std::pair<std::string, std::string>> rows = {
        {"version", text(j, "version")},
        {"pid", text(j, "pid")},
        {"uptime", format_duration(number(j, "uptime"))},
        {"config", text(j, "config")},
        {"generation", text(j, "generation")},
        {"services", text(j, "services")},
        {"connections", text(j, "connections")},
        {"children", text(j, "children")},
        {"reloads", reload_line},
        {"state", j.value("stopping", false) ? "draining" : "serving"},
    };
    for (auto& [k, v] : rows) t.rows.push_back({k, v});
    return format_table(t);
}

std::string render_services(const json& j) {
    Table t;
    t.headers = {"SERVICE", "STATE", "ACTIVE", "ACCEPTED", "REJECTED", "SPAWNED", "KIND", "LISTEN"};
    t.numeric = {false, false, true, true, true, true, false, false};
    for (const json& s : j.value("services", json::array())) {
        std::string kind = text(s, "kind");
        if (std::string action = text(s, "action"); action != "-") kind += " " + action;
        t.rows.push_back({text(s, "name"), text(s, "state"), text(s, "active"), text(s, "accepted"),
                          text(s, "rejected"), text(s, "spawned"), kind, joined(s, "listeners", " ")});
    }
    if (t.rows.empty()) return "no services\n";
    return format_table(t);
}

std::string render_connections(const json& j) {
    Table t;
    t.headers = {"ID", "SERVICE", "PEER", "AGE", "IN", "OUT", "PID", "UPSTREAM"};
    t.numeric = {true, false, false, true, true, true, true, false};
    for (const json& c : j.value("connections", json::array())) {
        t.rows.push_back({text(c, "id"), text(c, "service"), text(c, "peer"), format_duration(number(c, "age")),
                          text(c, "bytes_in"), text(c, "bytes_out"), text(c, "pid"), text(c, "upstream")});
    }
    if (t.rows.empty()) return "no open connections\n";
    return format_table(t);
}

std::string render_reload(const json& j) {
    Table t;
    t.rows = {{"added", joined(j, "added", ", ")},
              {"changed", joined(j, "changed", ", ")},
              {"removed", joined(j, "removed", ", ")},
              {"kept", joined(j, "kept", ", ")}};
    return "reloaded in " + milliseconds(number(j, "milliseconds")) + ", generation " + text(j, "generation") +
           "\n" + format_table(t);
}

std::string render_drain(const json& j) {
    auto n = static_cast<long long>(number(j, "connections"));
    if (n == 0) return "draining: no connections open; switchboard is exiting\n";
    return "draining: " + std::to_string(n) + (n == 1 ? " connection" : " connections") +
           " open; switchboard exits when they have finished\n";
}

}  // namespace

std::string format_table(const Table& table) {
    std::size_t columns = table.headers.size();
    for (const auto& row : table.rows) columns = std::max(columns, row.size());
    std::vector<std::size_t> width(columns, 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    };
    measure(table.headers);
    for (const auto& row : table.rows) measure(row);

    std::string out;
    auto emit = [&](const std::vector<std::string>& row) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            bool last = i + 1 == row.size();
            bool right = i < table.numeric.size() && table.numeric[i];
            std::size_t pad = width[i] - row[i].size();
            if (right) line.append(pad, ' ');
            line += row[i];
            if (!right && !last) line.append(pad, ' ');
            if (!last) line += "  ";
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line;
        out += '\n';
    };
    if (!table.headers.empty()) emit(table.headers);
    for (const auto& row : table.rows) emit(row);
    return out;
}

std::string format_duration(double seconds) {
    if (!(seconds >= 0) || !std::isfinite(seconds)) return "-";
    char buf[48];
    if (seconds < 1) {
        std::snprintf(buf, sizeof buf, "%dms", static_cast<int>(seconds * 1000));
        return buf;
    }
    auto s = static_cast<unsigned long long>(seconds);
    if (s < 60) {
        std::snprintf(buf, sizeof buf, "%llus", s);
    } else if (s < 3600) {
        std::snprintf(buf, sizeof buf, "%llum%02llus", s / 60, s % 60);
    } else if (s < 86400) {
        std::snprintf(buf, sizeof buf, "%lluh%02llum", s / 3600, s % 3600 / 60);
    } else {
        std::snprintf(buf, sizeof buf, "%llud%02lluh", s / 86400, s % 86400 / 3600);
    }
    return buf;
}

HumanReply render_human(Command command, std::string_view reply_line) {
    HumanReply out;
    json j = json::parse(reply_line.begin(), reply_line.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("ok") || !j["ok"].is_boolean()) {
        out.err = "the server's reply is not a control protocol reply\n";
        return out;
    }
    if (!j["ok"].get<bool>()) {
        out.verdict = HumanReply::Verdict::refused;
        out.err = text(j, "error") + "\n";
        for (const json& e : j.value("errors", json::array())) {
            std::string shown =
                e.is_string() ? e.get<std::string>() : e.dump(-1, ' ', false, json::error_handler_t::replace);
            out.err += "  " + shown + "\n";
        }
        return out;
    }
    try {
        switch (command) {
            case Command::status: out.out = render_status(j); break;
            case Command::services: out.out = render_services(j); break;
            case Command::connections: out.out = render_connections(j); break;
            case Command::reload: out.out = render_reload(j); break;
            case Command::enable:
            case Command::disable: out.out = text(j, "service") + ": " + text(j, "state") + "\n"; break;
            case Command::drain: out.out = render_drain(j); break;
            case Command::metrics: out.out = text(j, "metrics"); break;
        }
    } catch (const json::exception&) {
        // A field of an unexpected type: a server of another version, or not a server at all.
        out.out.clear();
        out.err = "the server's reply does not have the expected fields\n";
        return out;
    }
    out.verdict = HumanReply::Verdict::ok;
    return out;
}

}  // namespace sb::control
