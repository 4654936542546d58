#include "bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "berth/fs.h"
#include "berth/mount.h"

namespace berth::runtime_v2 {
namespace {

namespace fs = std::filesystem;

Status MakeDirs(const std::string& path, fs::perms perms) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return Status::Unknown("mkdir " + path + ": " + ec.message());
  fs::permissions(path, perms, ec);
  return Status::Ok();
}

// Renames `path` to ".<name>" beside it, then removes that.
Status AtomicRemove(const std::string& path) {
  fs::path p(path);
  fs::path hidden = p.parent_path() / ("." + p.filename().string());
  std::error_code ec;
  fs::rename(p, hidden, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return Status::Ok();
    return Status::Unknown("rename " + path + ": " + ec.message());
  }
  fs::remove_all(hidden, ec);
  if (ec) return Status::Unknown("remove " + hidden.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

Bundle Bundle::Of(const std::string& root, const std::string& state, const std::string& ns,
                  const std::string& id) {
  return Bundle{ns, id, state + "/" + ns + "/" + id, root + "/" + ns + "/" + id};
}

Status Bundle::Create(const std::string& spec) const {
  constexpr auto k711 = fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec;
  BERTH_RETURN_IF_ERROR(MakeDirs(fs::path(path).parent_path().string(), k711));
  if (mkdir(path.c_str(), 0700) != 0) {
    if (errno == EEXIST) return Status::AlreadyExists("bundle " + path);
    return ErrnoStatus("mkdir", path, errno);
  }
  auto fail = [this](Status s) {
    std::error_code ec;
    fs::remove_all(path, ec);
    fs::remove_all(work, ec);
    return s;
  };
  if (mkdir(rootfs().c_str(), 0711) != 0) return fail(ErrnoStatus("mkdir", rootfs(), errno));
  Status s = MakeDirs(fs::path(work).parent_path().string(), k711);
  if (!s.ok()) return fail(s);
  std::error_code ec;
  fs::remove_all(work, ec);  // a stale work folder of an earlier task
  if (mkdir(work.c_str(), 0711) != 0) return fail(ErrnoStatus("mkdir", work, errno));
  if (symlink(work.c_str(), File("work").c_str()) != 0) {
    return fail(ErrnoStatus("symlink", File("work"), errno));
  }
  s = Write("config.json", spec);
  if (!s.ok()) return fail(s);
  return Status::Ok();
}

Status Bundle::Delete() const {
  BERTH_RETURN_IF_ERROR(UnmountAll(rootfs()));
  BERTH_RETURN_IF_ERROR(AtomicRemove(path));
  return AtomicRemove(work);
}

Result<std::string> Bundle::Read(const std::string& name) const {
  std::ifstream in(File(name), std::ios::binary);
  if (!in) return Status::NotFound(File(name));
  std::ostringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

Status Bundle::Write(const std::string& name, const std::string& content) const {
  std::string file = File(name);
  int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("open", file, errno);
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t w = write(fd, content.data() + done, content.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return ErrnoStatus("write", file, err);
    }
    done += static_cast<std::size_t>(w);
  }
  if (close(fd) != 0) return ErrnoStatus("close", file, errno);
  return Status::Ok();
}

}  // namespace berth::runtime_v2
