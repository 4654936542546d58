// Small helpers over toml11 shared by the plugin config decoder, the
// standalone runner and berthd's config loader and renderer: source locations, type names, typed reads that
// answer InvalidArgument naming file, line and key, and the translation of
// toml11's multi-line syntax errors into one line.
//
// Part of libberth-runner. Stateless; thread-safe.
#ifndef BERTH_RUNNER_TOML_UTIL_H_
#define BERTH_RUNNER_TOML_UTIL_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <toml.hpp>

#include "berth/status.h"
#include "berth/runner/plugin_config.h"

namespace berth::runner::toml_util {

// Where `v` was read from; empty for values built in code.
SourceLocation LocationOf(const toml::value& v);

// "string", "integer", "table", ... as an operator reads them.
std::string_view TypeName(toml::value_t type);

// InvalidArgument: `<file>:<line>:<col>: key "<key>": expected <expected>,
// got <actual type>`.
Status TypeError(const toml::value& v, std::string_view key,
                 std::string_view expected);

// Turns toml11's syntax error into
// `<display>:<line>:<col>: invalid TOML: <what went wrong>`.
Status SyntaxError(const toml::exception& e, const std::string& display);

// The entries of a table, ordered by where they appear in the source (then by
// key), so that warnings and errors come out in reading order.
// REQUIRES: table.is_table().
std::vector<std::pair<std::string, const toml::value*>> SortedEntries(
    const toml::value& table);

// Typed reads. Each answers TypeError (naming `key`) on a type mismatch and
// leaves `out` untouched.
Status Read(const toml::value& v, std::string_view key, std::string& out);
Status Read(const toml::value& v, std::string_view key, std::int64_t& out);
Status Read(const toml::value& v, std::string_view key, bool& out);
Status Read(const toml::value& v, std::string_view key,
            std::vector<std::string>& out);
Status Read(const toml::value& v, std::string_view key,
            std::map<std::string, std::string>& out);

// A TOML basic string literal for `s`, with escapes: "a\"b".
std::string Quote(const std::string& s);

}  // namespace berth::runner::toml_util

#endif  // BERTH_RUNNER_TOML_UTIL_H_
