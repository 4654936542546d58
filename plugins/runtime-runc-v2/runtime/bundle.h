// Bundle: a task's OCI bundle and shim state on disk, as containerd lays it
// out — <state>/<namespace>/<id>/ holding config.json (the spec), rootfs/
// (the shim mounts the container's root filesystem there), work (a symlink
// to <root>/<namespace>/<id>, the shim's working folder), log (the fifo the
// shim writes its log to), shim-binary-path (the shim that serves it, for
// reconnecting after a restart), and what the shim writes itself: address,
// shim.pid.
//
// Value type; the functions touch only the bundle's own folders.
// Thread-compatible: one caller per bundle at a time.
#ifndef BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_BUNDLE_H_
#define BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_BUNDLE_H_

#include <string>

#include "berth/status.h"

namespace berth::runtime_v2 {

struct Bundle {
  std::string ns;
  std::string id;
  std::string path;  // <state>/<ns>/<id>
  std::string work;  // <root>/<ns>/<id>

  // The bundle of (ns, id) under the runtime's `state` and `root` folders.
  // REQUIRES: ns and id are valid identifiers.
  static Bundle Of(const std::string& root, const std::string& state, const std::string& ns,
                   const std::string& id);

  // Creates the folders, the work link and config.json. AlreadyExists when
  // the bundle folder exists; on any other error removes what it made.
  Status Create(const std::string& spec) const;

  // Unmounts rootfs, then removes the bundle and its work folder (each
  // renamed to a hidden name first, so that a crash never leaves a half
  // bundle that looks whole). Missing parts are fine.
  Status Delete() const;

  std::string File(const std::string& name) const { return path + "/" + name; }
  std::string rootfs() const { return File("rootfs"); }

  // The content of file `name`, trailing whitespace removed; NotFound.
  Result<std::string> Read(const std::string& name) const;
  Status Write(const std::string& name, const std::string& content) const;
};

}  // namespace berth::runtime_v2

#endif  // BERTH_PLUGINS_RUNTIME_RUNC_V2_RUNTIME_BUNDLE_H_
