// How berthctl presents one introspected plugin: its URI, its status word
// (ok / skip / error, derived as ctr derives it) and its platforms.
// Thread-safe (pure functions).
#ifndef BERTH_CLI_PLUGIN_INFO_H_
#define BERTH_CLI_PLUGIN_INFO_H_

#include <string>

#include "containerd/services/introspection/v1/introspection.pb.h"

namespace berth::cli {

using IntrospectedPlugin = containerd::services::introspection::v1::Plugin;

// The type under which berthd lists a library that failed to load.
inline constexpr char kLibraryPseudoType[] = "io.berth.library.v1";

// "<type>.<id>".
std::string PluginUri(const IntrospectedPlugin& plugin);
// "ok" without an init error; "skip" when the error's message contains
// "skip plugin"; "error" otherwise.
std::string PluginStatus(const IntrospectedPlugin& plugin);
// Distinct "os/arch[/variant]" entries, sorted, comma-joined; "-" if none.
std::string FormatPlatforms(const IntrospectedPlugin& plugin);

}  // namespace berth::cli

#endif  // BERTH_CLI_PLUGIN_INFO_H_
