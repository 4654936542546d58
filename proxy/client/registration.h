// The registration of one proxy plugin: what berthd makes of a
// `[proxy_plugins.NAME]` entry (containerd's proxy plugins, with the
// `platform`, `exports` and `capabilities` keys of containerd 1.7+ and
// berth's `timeout`).
//
// The plugin is "<type>.NAME" with type io.containerd.snapshotter.v1
// ("snapshot"), io.containerd.content.v1 ("content") or
// io.containerd.differ.v1 ("diff"). Its init never waits for the
// peer: it fills the exports (the configured ones, then "address"), the
// capabilities and the platform (the configured one, else the host's),
// checks the socket once with a plain connect(2) and, when nothing answers
// there, logs a warning and exports "status" = "unavailable at start: ...",
// then returns the client, which connects whenever the peer appears.
// An unknown type registers under the type as written and fails its init
// with InvalidArgument; a platform that does not parse fails it too.
//
// Thread-safe: pure construction.
#ifndef BERTH_PROXY_CLIENT_REGISTRATION_H_
#define BERTH_PROXY_CLIENT_REGISTRATION_H_

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "berth/plugin.h"
#include "berth/status.h"
#include "channel.h"

namespace berth::proxy {

struct ProxySpec {
  std::string name;      // the plugin's id
  std::string type;      // "snapshot", "content", "diff" or a full plugin type
  std::string address;   // unix socket path (or unix:// address)
  std::string platform;  // "os[/arch[/variant]]"; "" = the host's platform
  std::map<std::string, std::string> exports;
  std::vector<std::string> capabilities;
  std::chrono::milliseconds timeout = kDefaultTimeout;  // per call / stream step
};

// "snapshot" → io.containerd.snapshotter.v1, "content" →
// io.containerd.content.v1, "diff" → io.containerd.differ.v1; full types of
// those three pass; anything else comes back unchanged (and is not a proxy
// type).
std::string ProxyPluginType(const std::string& type);

// Parses "os[/arch[/variant]]" as containerd's platforms.Parse does for
// these forms (lower-cased; arch defaults to the host's). InvalidArgument
// for an empty part or more than three.
Result<Platform> ParsePlatform(const std::string& text);

Registration ProxyRegistration(const ProxySpec& spec);

}  // namespace berth::proxy

#endif  // BERTH_PROXY_CLIENT_REGISTRATION_H_
