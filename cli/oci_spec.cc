#include "oci_spec.h"

#include <cctype>

#include "berth/digest.h"

namespace berth::cli {
namespace {

using nlohmann::json;

// containerd 1.6's populateDefaultUnixSpec, as `ctr oci spec` prints it
// (cgroupsPath and env are filled in by DefaultSpec).
constexpr char kDefaultSpec[] = R"({
  "ociVersion": "1.0.2-dev",
  "process": {
    "user": {"uid": 0, "gid": 0},
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
                   "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
                   "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                   "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"],
      "effective": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
                    "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
                    "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"],
      "permitted": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
                    "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
                    "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs"},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}
  ],
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "cgroupsPath": "",
    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
                   {"type": "mount"}, {"type": "network"}],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                    "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                      "/proc/sysrq-trigger"]
  }
})";

// The strings of `value` (an array), or none when it is null or absent.
bool Strings(const json& object, const char* key, std::vector<std::string>& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  if (!it->is_array()) return false;
  for (const auto& item : *it) {
    if (!item.is_string()) return false;
    out.push_back(item.get<std::string>());
  }
  return true;
}

bool ParseUint(const std::string& text, std::uint32_t& out) {
  if (text.empty() || text.size() > 10) return false;
  std::uint64_t value = 0;
  for (char ch : text) {
    if (!std::isdigit(static_cast<unsigned char>(ch))) return false;
    value = value * 10 + static_cast<std::uint64_t>(ch - '0');
  }
  if (value > 0xffffffffu) return false;
  out = static_cast<std::uint32_t>(value);
  return true;
}

Result<json> ParseObject(const std::string& text, const char* what) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) return Status::InvalidArgument(std::string(what) + " is not a JSON object");
  return value;
}

}  // namespace

json DefaultSpec(const std::string& ns, const std::string& id) {
  json spec = json::parse(kDefaultSpec);
  spec["process"]["env"] = json::array({kDefaultPathEnv});
  spec["linux"]["cgroupsPath"] = "/" + ns + (id.empty() ? "" : "/" + id);
  return spec;
}

Result<ImageConfig> ParseImageConfig(const std::string& text) {
  auto parsed = ParseObject(text, "image config");
  if (!parsed.ok()) return parsed.status();
  const json& doc = *parsed;
  ImageConfig out;
  auto rootfs = doc.find("rootfs");
  if (rootfs == doc.end() || !rootfs->is_object() || !Strings(*rootfs, "diff_ids", out.diff_ids)) {
    return Status::InvalidArgument("image config has no rootfs.diff_ids");
  }
  auto config = doc.find("config");
  if (config != doc.end() && config->is_object()) {
    if (!Strings(*config, "Env", out.env) || !Strings(*config, "Entrypoint", out.entrypoint) ||
        !Strings(*config, "Cmd", out.cmd)) {
      return Status::InvalidArgument("image config: Env, Entrypoint and Cmd must be strings");
    }
    if (auto it = config->find("WorkingDir"); it != config->end() && it->is_string()) {
      out.working_dir = it->get<std::string>();
    }
    if (auto it = config->find("User"); it != config->end() && it->is_string()) {
      out.user = it->get<std::string>();
    }
  }
  return out;
}

std::vector<std::string> MergeEnv(std::vector<std::string> base,
                                  const std::vector<std::string>& over) {
  for (const std::string& entry : over) {
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (std::string& existing : base) {
      if (existing.substr(0, existing.find('=')) == name) {
        existing = entry;
        replaced = true;
      }
    }
    if (!replaced) base.push_back(entry);
  }
  return base;
}

Status ApplyImageConfig(const ImageConfig& config, const std::vector<std::string>& args,
                        json& spec) {
  json& process = spec["process"];
  std::vector<std::string> env;
  if (process.contains("env")) env = process["env"].get<std::vector<std::string>>();
  process["env"] = MergeEnv(std::move(env), config.env);
  if (!config.working_dir.empty()) process["cwd"] = config.working_dir;
  if (!config.user.empty()) {
    const std::size_t colon = config.user.find(':');
    std::uint32_t uid = 0, gid = 0;
    if (!ParseUint(config.user.substr(0, colon), uid) ||
        (colon != std::string::npos && !ParseUint(config.user.substr(colon + 1), gid))) {
      return Status::InvalidArgument("image user \"" + config.user +
                                     "\" is not numeric (uid[:gid]); names are not looked up");
    }
    process["user"]["uid"] = uid;
    process["user"]["gid"] = gid;
  }
  std::vector<std::string> run = args;
  if (run.empty()) {
    run = config.entrypoint;
    run.insert(run.end(), config.cmd.begin(), config.cmd.end());
  }
  if (run.empty()) return Status::InvalidArgument("no command given and the image sets none");
  process["args"] = run;
  return Status::Ok();
}

std::string ChainId(const std::vector<std::string>& diff_ids) {
  std::string chain;
  for (const std::string& diff_id : diff_ids) {
    chain = chain.empty() ? diff_id : Sha256Of(chain + " " + diff_id);
  }
  return chain;
}

bool IsIndexMediaType(const std::string& media_type) {
  return media_type == "application/vnd.oci.image.index.v1+json" ||
         media_type == "application/vnd.docker.distribution.manifest.list.v2+json";
}

Result<std::string> PickManifest(const std::string& index_json, const std::string& os,
                                 const std::string& arch) {
  auto parsed = ParseObject(index_json, "image index");
  if (!parsed.ok()) return parsed.status();
  auto manifests = parsed->find("manifests");
  if (manifests == parsed->end() || !manifests->is_array()) {
    return Status::InvalidArgument("image index has no manifests");
  }
  for (const auto& m : *manifests) {
    if (!m.is_object() || !m.contains("digest") || !m["digest"].is_string()) continue;
    auto platform = m.find("platform");
    if (platform == m.end() || !platform->is_object()) continue;
    if (platform->value("os", "") == os && platform->value("architecture", "") == arch) {
      return m["digest"].get<std::string>();
    }
  }
  return Status::NotFound("image index has no manifest for " + os + "/" + arch);
}

Result<std::string> ManifestConfigDigest(const std::string& manifest_json) {
  auto parsed = ParseObject(manifest_json, "image manifest");
  if (!parsed.ok()) return parsed.status();
  auto config = parsed->find("config");
  if (config == parsed->end() || !config->is_object() || !config->contains("digest") ||
      !(*config)["digest"].is_string()) {
    return Status::InvalidArgument("image manifest has no config digest");
  }
  return (*config)["digest"].get<std::string>();
}

}  // namespace berth::cli
