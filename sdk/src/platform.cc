#include "berth/platform.h"

namespace berth {

std::string HostArchitecture() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__powerpc64__)
  return "ppc64le";
#elif defined(__riscv)
  return "riscv64";
#else
  return "unknown";
#endif
}

Platform HostPlatform() { return Platform{"linux", HostArchitecture(), ""}; }

}  // namespace berth
