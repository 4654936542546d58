// Applies one parsed config.toml file onto a Config, with containerd's merge
// rules: scalars the file sets replace, arrays append, `plugins."x"` and
// `proxy_plugins.x` tables replace whole tables. Type errors are answered;
// unknown keys become warnings. The file's `imports` are handed back
// unresolved, with where each was written.
//
// Stateless; thread-safe on distinct Configs.
#ifndef BERTH_HOST_CONFIG_CONFIG_FILE_H_
#define BERTH_HOST_CONFIG_CONFIG_FILE_H_

#include <string>
#include <vector>

#include <toml.hpp>

#include "berth/status.h"
#include "config/config.h"

namespace berth::host::config_file {

struct Import {
  std::string path;  // as written
  SourceLocation where;
};

// REQUIRES: root.is_table(); the version key was checked by the caller.
Status Apply(const toml::value& root, Config& config,
             std::vector<ConfigWarning>& warnings, std::vector<Import>& imports);

}  // namespace berth::host::config_file

#endif  // BERTH_HOST_CONFIG_CONFIG_FILE_H_
