// The plugin types of containerd's registry, as berth names them.
//
// A plugin's URI is "<type>.<id>", e.g. "io.containerd.snapshotter.v1.overlayfs".
// Frozen: these strings are part of the wire API (introspection) and config.
#ifndef BERTH_PLUGIN_TYPES_H_
#define BERTH_PLUGIN_TYPES_H_

#include <string_view>

namespace berth::types {

inline constexpr std::string_view kInternal = "io.containerd.internal.v1";
inline constexpr std::string_view kRuntime = "io.containerd.runtime.v1";
inline constexpr std::string_view kRuntimeV2 = "io.containerd.runtime.v2";
inline constexpr std::string_view kService = "io.containerd.service.v1";
inline constexpr std::string_view kGrpc = "io.containerd.grpc.v1";
inline constexpr std::string_view kTtrpc = "io.containerd.ttrpc.v1";
inline constexpr std::string_view kSnapshotter = "io.containerd.snapshotter.v1";
inline constexpr std::string_view kMonitor = "io.containerd.monitor.v1";
inline constexpr std::string_view kDiffer = "io.containerd.differ.v1";
inline constexpr std::string_view kMetadata = "io.containerd.metadata.v1";
inline constexpr std::string_view kContent = "io.containerd.content.v1";
inline constexpr std::string_view kGc = "io.containerd.gc.v1";
inline constexpr std::string_view kEvent = "io.containerd.event.v1";

// Every type above, in the order containerd lists them.
inline constexpr std::string_view kAll[] = {
    kInternal, kRuntime,  kRuntimeV2, kService, kGrpc,    kTtrpc, kSnapshotter,
    kMonitor,  kDiffer,   kMetadata,  kContent, kGc,      kEvent,
};

// The requires entry meaning "every other plugin first".
inline constexpr std::string_view kAllPlugins = "*";

}  // namespace berth::types

#endif  // BERTH_PLUGIN_TYPES_H_
