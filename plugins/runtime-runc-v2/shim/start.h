// The shim's command line and its one-shot actions, as containerd 1.6 runs
// them (runtime/v2/shim): flags in Go's flag syntax, then an action.
//
//   <shim> -namespace N -address A -publish-binary B -id ID [-debug] start
//     In the bundle dir, TTRPC_ADDRESS in the environment, runc options (an
//     Any) on stdin. Binds unix:///run/containerd/s/<sha256(A/N/ID)> (0600),
//     writes it to ./address, starts the serving shim (the same binary
//     without an action, in a new session, the listening socket as fd 3,
//     stdio on /dev/null), prints the address and exits 0. A shim already
//     answering on that socket is reused.
//   <shim> -namespace N -address A -id ID [-bundle DIR] delete
//     After the serving shim is gone: `runc delete --force ID`, unmounts
//     <bundle>/rootfs, prints a DeleteResponse (pid from init.pid, exit
//     status 137, exited now) on stdout.
#ifndef BERTH_SHIM_START_H_
#define BERTH_SHIM_START_H_

#include <string>

#include "berth/status.h"

namespace berth::shim {

struct Flags {
  std::string ns;              // -namespace (required)
  std::string id;              // -id
  std::string address;         // -address: containerd's gRPC socket
  std::string publish_binary;  // -publish-binary (unused: events go over ttrpc)
  std::string socket;          // -socket: serve here instead of fd 3
  std::string bundle;          // -bundle: when not the working directory
  bool debug = false;          // -debug
  bool version = false;        // -v
  std::string action;          // "start", "delete", or "" (serve)
};

// InvalidArgument naming an unknown flag or a missing value.
Result<Flags> ParseFlags(int argc, char** argv);

// The actions; each returns the process's exit code and reports errors on
// stderr (containerd shows them).
int RunStart(const Flags& flags, int argc, char** argv);
int RunDelete(const Flags& flags);

// The socket path of an address file's content ("unix://<path>").
std::string SocketPathOf(const std::string& address);

}  // namespace berth::shim

#endif  // BERTH_SHIM_START_H_
