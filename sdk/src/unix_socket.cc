#include "berth/unix_socket.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace berth {

bool SocketAnswers(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool answers = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return answers;
}

Status PublishSocket(const std::string& path, mode_t mode, uid_t uid, gid_t gid,
                     const ListenAt& listen_at) {
  const std::filesystem::path final_path(path);
  std::string dir = final_path.parent_path().string();
  if (dir.empty() || dir.back() != '/') dir += '/';
  std::string tmpl = dir + ".XXXXXX";
  const std::string private_path = tmpl + "/s";
  if (private_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Status::InvalidArgument("socket path " + path +
                                   " leaves no room for its private temporary name " +
                                   private_path + " in a unix socket address");
  }
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::Unknown("mkdtemp " + tmpl + ": " + std::strerror(errno));
  }
  const std::string bound = tmpl + "/s";
  auto cleanup = [&] {
    ::unlink(bound.c_str());
    ::rmdir(tmpl.c_str());
  };
  Status s = listen_at(bound);
  auto fail = [&](const char* what, const std::string& target) {
    s = Status::Unknown(std::string(what) + " " + target + ": " + std::strerror(errno));
  };
  if (s.ok() && ::chmod(bound.c_str(), mode) != 0) fail("chmod", bound);
  if (s.ok() && ::chown(bound.c_str(), uid, gid) != 0) fail("chown", bound);
  if (s.ok() && ::rename(bound.c_str(), path.c_str()) != 0) fail("rename onto", path);
  cleanup();
  return s;
}

}  // namespace berth
