// Decoding a plugin's typed config (berth/config.h) from a TOML table, as
// berthd decodes [plugins."<uri>"] and as berth-snapshotter decodes its
// --config file: the operator's table is read over the plugin's defaults,
// wrong types are errors naming file, line and key, unknown keys are
// warnings. Also the reverse (the defaults as a table, for `config default`).
//
// Part of libberth-runner. Stateless; thread-safe (each call works on its own
// PluginConfig).
#ifndef BERTH_RUNNER_PLUGIN_CONFIG_H_
#define BERTH_RUNNER_PLUGIN_CONFIG_H_

#include <string>
#include <vector>

#include <toml.hpp>

#include "berth/config.h"
#include "berth/status.h"

namespace berth::runner {

// Where a value came from: "config.toml:12:3". Empty for defaults.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  std::string ToString() const;
};

struct ConfigWarning {
  SourceLocation where;
  std::string message;  // e.g. `unknown key "grcp"`
  std::string ToString() const;  // "<file>:<line>: <message>"
};

// Decodes the operator's table over `cfg`'s defaults by calling
// cfg.Describe(). Wrong types are InvalidArgument naming file:line and key;
// unknown keys become warnings (when `warnings` is not null). An
// uninitialised `table` (no table at all) keeps every default.
Status DecodePluginConfig(const toml::value& table, PluginConfig& cfg,
                          std::vector<ConfigWarning>* warnings);

// `cfg`'s fields as a TOML table (for `config default`).
toml::value EncodePluginConfig(PluginConfig& cfg);

}  // namespace berth::runner

#endif  // BERTH_RUNNER_PLUGIN_CONFIG_H_
