#include "process.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace berth::shim {

void Process::SetExited(int code) {
  state = ProcessState::kStopped;
  exit_status = code;
  if (exited_at.time_since_epoch().count() == 0) exited_at = std::chrono::system_clock::now();
  auto fns = std::move(waiters);
  waiters.clear();
  for (auto& fn : fns) fn();
}

Process* Container::Find(const std::string& exec_id) {
  if (exec_id.empty()) return &init;
  auto it = execs.find(exec_id);
  return it == execs.end() ? nullptr : it->second.get();
}

Result<wire::RuncOptions> DecodeRuncOptions(const wire::Any& any) {
  wire::RuncOptions options;
  if (any.type_url().empty()) return options;
  const std::string& url = any.type_url();
  static constexpr std::string_view kName = "containerd.runc.v1.Options";
  bool known = url == kName || (url.size() > kName.size() &&
                                url.compare(url.size() - kName.size() - 1, std::string::npos,
                                            "/" + std::string(kName)) == 0);
  if (!known) return Status::InvalidArgument("unsupported runtime options type " + url);
  if (!options.ParseFromString(any.value())) {
    return Status::InvalidArgument("cannot parse " + url);
  }
  return options;
}

std::string RuncRootFor(const wire::RuncOptions& options, const std::string& ns) {
  std::string root = options.root().empty() ? "/run/containerd/runc" : options.root();
  return root + "/" + ns;
}

std::string OptionsJson(const wire::RuncOptions& o) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();  // in field order
  auto str = [&](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  auto boolean = [&](const char* key, bool v) {
    if (v) j[key] = true;
  };
  auto number = [&](const char* key, uint32_t v) {
    if (v != 0) j[key] = v;
  };
  boolean("no_pivot_root", o.no_pivot_root());
  boolean("no_new_keyring", o.no_new_keyring());
  str("shim_cgroup", o.shim_cgroup());
  number("io_uid", o.io_uid());
  number("io_gid", o.io_gid());
  str("binary_name", o.binary_name());
  str("root", o.root());
  str("criu_path", o.criu_path());
  boolean("systemd_cgroup", o.systemd_cgroup());
  str("criu_image_path", o.criu_image_path());
  str("criu_work_path", o.criu_work_path());
  // Invalid UTF-8 (protobuf-lite does not check) becomes U+FFFD, not an exception.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

wire::RuncOptions ParseOptionsJson(const std::string& text) {
  wire::RuncOptions o;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  o.set_binary_name(JsonString(j, "binary_name"));
  o.set_root(JsonString(j, "root"));
  auto systemd = j.find("systemd_cgroup");
  o.set_systemd_cgroup(systemd != j.end() && *systemd == true);
  return o;
}

bool ShouldKillAllOnExit(const std::string& bundle) {
  Result<std::string> text = ReadWholeFile(bundle + "/config.json");
  if (!text.ok()) return true;
  nlohmann::json spec = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto linux_section = spec.find("linux");  // end() also when spec is no object
  if (linux_section == spec.end()) return true;
  auto namespaces = linux_section->find("namespaces");
  if (namespaces == linux_section->end() || !namespaces->is_array()) return true;
  for (const nlohmann::json& ns : *namespaces) {
    if (JsonString(ns, "type") == "pid" && JsonString(ns, "path").empty()) return false;
  }
  return true;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string JsonString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<pid_t> ReadPidFile(const std::string& path) {
  Result<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  char* end = nullptr;
  long pid = std::strtol(text->c_str(), &end, 10);
  if (end == text->c_str() || pid <= 0) {
    return Status::InvalidArgument("no pid in " + path + ": " + *text);
  }
  return static_cast<pid_t>(pid);
}

Status WriteFileAtomic(const std::string& path, const std::string& content, int mode) {
  size_t slash = path.rfind('/');
  std::string tmp = slash == std::string::npos
                        ? "." + path
                        : path.substr(0, slash + 1) + "." + path.substr(slash + 1);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Unknown("create " + tmp + ": " + std::strerror(errno));
  ssize_t n = write(fd, content.data(), content.size());
  int saved = errno;
  close(fd);
  if (n != static_cast<ssize_t>(content.size())) {
    unlink(tmp.c_str());
    return Status::Unknown("write " + tmp + ": " + std::strerror(saved));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    saved = errno;
    unlink(tmp.c_str());
    return Status::Unknown("rename " + path + ": " + std::strerror(saved));
  }
  return Status::Ok();
}

void ToWire(std::chrono::system_clock::time_point t, wire::Timestamp* out) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  out->set_seconds(ns / 1000000000);
  out->set_nanos(static_cast<int32_t>(ns % 1000000000));
}

wire::Status ToWireStatus(ProcessState state) {
  switch (state) {
    case ProcessState::kCreated:
      return wire::CREATED;
    case ProcessState::kRunning:
      return wire::RUNNING;
    case ProcessState::kPausing:
      return wire::PAUSING;
    case ProcessState::kPaused:
      return wire::PAUSED;
    case ProcessState::kStopped:
      return wire::STOPPED;
  }
  return wire::UNKNOWN;
}

}  // namespace berth::shim
