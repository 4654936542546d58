// The list of berthctl's command groups. Adding a group: a new file defining
// its factory (declared in command.h) and one line here.
#include "command.h"

namespace berth::cli {

const std::vector<CommandGroup>& CommandGroups() {
  static const std::vector<CommandGroup> groups = {
      ContainersGroup(),
      ContentGroup(),
      EventsGroup(),
      GcGroup(),
      LeasesGroup(),
      NamespacesGroup(),
      PluginsGroup(),
      RunGroup(),
      SnapshotsGroup(),
      TaskGroup(),
      TasksGroup(),
      VersionGroup(),
  };
  return groups;
}

}  // namespace berth::cli
