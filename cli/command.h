// CommandGroup: one top-level berthctl verb ("plugins", "version", ...).
//
// Each group lives in its own file and exposes a factory declared here; the
// one list of groups is CommandGroups() in command_groups.cc. A group's Run
// receives the words after its name (its sub-verb and options) and returns
// the process exit code. Not thread-safe; berthctl runs one command.
#ifndef BERTH_CLI_COMMAND_H_
#define BERTH_CLI_COMMAND_H_

#include <functional>
#include <string>
#include <vector>

#include "client.h"

namespace berth::cli {

struct CommandGroup {
  std::string name;     // e.g. "plugins"
  std::string summary;  // one line for `berthctl --help`
  std::function<int(Client& client, const std::vector<std::string>& args)> run;
};

// Every group, in the order `--help` lists them.
const std::vector<CommandGroup>& CommandGroups();

// The group factories, one per file.
CommandGroup ContainersGroup();
CommandGroup ContentGroup();
CommandGroup EventsGroup();
CommandGroup GcGroup();
CommandGroup LeasesGroup();
CommandGroup NamespacesGroup();
CommandGroup PluginsGroup();
CommandGroup RunGroup();
CommandGroup SnapshotsGroup();
CommandGroup TaskGroup();
CommandGroup TasksGroup();
CommandGroup VersionGroup();

}  // namespace berth::cli

#endif  // BERTH_CLI_COMMAND_H_
