// The platform this code was built for, in the names OCI image specs and Go
// use ("linux", "amd64"), as a plugin reports it in PluginMeta::platforms.
//
// Thread-safe (no state).
#ifndef BERTH_PLATFORM_H_
#define BERTH_PLATFORM_H_

#include <string>

#include "berth/plugin.h"

namespace berth {

// Go's GOARCH for this build: "amd64", "arm64", "arm", "s390x", "ppc64le",
// "riscv64", else "unknown".
std::string HostArchitecture();

// {"linux", HostArchitecture(), ""}.
Platform HostPlatform();

}  // namespace berth

#endif  // BERTH_PLATFORM_H_
