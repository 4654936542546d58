// Loading config.toml and its imports, the embedded default, and the check of
// plugin tables against the registered plugins.
#include "config/config.h"

#include <glob.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "config/config_file.h"
#include "berth/runner/toml_util.h"

namespace berth::host {
namespace {

namespace fs = std::filesystem;

constexpr char kVersionHint[] =
    "set version = 2 at the top of the file (the containerd v2 schema)";

// A file waiting to be merged, and the `imports` entry that named it.
struct Pending {
  fs::path path;
  config_file::Import from;
};

fs::path Absolute(const fs::path& p) {
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  return (ec ? p : abs).lexically_normal();
}

// Identity of a file for "load each once": symlinks resolved where possible.
std::string Identity(const fs::path& p) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(p, ec);
  return (ec ? p : canonical).string();
}

Result<std::string> ReadFile(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return Status::InvalidArgument(path.string() + ": is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string what = path.string() + ": " + std::strerror(err);
    if (err == ENOENT) return Status::NotFound(path.string() + ": no such file");
    return Status::InvalidArgument(std::move(what));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Status::InvalidArgument(path.string() + ": cannot read the file");
  }
  return text.str();
}

Result<toml::value> ParseToml(const std::string& text,
                              const std::string& display) {
  std::istringstream in(text);
  try {
    return toml::parse(in, display);
  } catch (const toml::exception& e) {
    return toml_util::SyntaxError(e, display);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(display + ": invalid TOML: " + e.what());
  }
}

// The main file must say version = 2; an imported file may leave it out.
Status CheckVersion(const toml::value& root, const std::string& display,
                    bool is_main) {
  if (!root.contains("version")) {
    if (!is_main) return Status::Ok();
    return Status::InvalidArgument(
        display + ": config version 1 is not supported (the file has no " +
        "version key); " + kVersionHint);
  }
  const toml::value& v = root.at("version");
  if (!v.is_integer()) return toml_util::TypeError(v, "version", "integer");
  std::int64_t version = v.as_integer();
  if (version == 2) return Status::Ok();
  std::string where = toml_util::LocationOf(v).ToString();
  if (version < 2) {
    return Status::InvalidArgument(where + ": config version " +
                                   std::to_string(version) +
                                   " is not supported; " + kVersionHint);
  }
  return Status::InvalidArgument(
      where + ": config version " + std::to_string(version) +
      " is not supported; berthd reads version 2 (the containerd v2 schema)");
}

bool IsGlob(const std::string& p) {
  return p.find_first_of("*?[") != std::string::npos;
}

// Resolves `imports` of the file at `file` into absolute paths, in order.
Status ResolveImports(const fs::path& file,
                      const std::vector<config_file::Import>& imports,
                      std::deque<Pending>& pending) {
  for (const config_file::Import& import : imports) {
    fs::path p = import.path;
    if (p.is_relative()) p = file.parent_path() / p;
    if (!IsGlob(import.path)) {
      pending.push_back({p.lexically_normal(), import});
      continue;
    }
    glob_t matches{};
    int rc = ::glob(p.c_str(), 0, nullptr, &matches);
    if (rc == 0) {
      for (size_t i = 0; i < matches.gl_pathc; ++i) {
        pending.push_back({fs::path(matches.gl_pathv[i]).lexically_normal(),
                           import});
      }
    }
    globfree(&matches);
    if (rc != 0 && rc != GLOB_NOMATCH) {
      return Status::InvalidArgument(import.where.ToString() + ": import \"" +
                                     import.path + "\": cannot expand the pattern");
    }
  }
  return Status::Ok();
}

// Parses one file's text and merges it into `config`.
Status MergeText(const std::string& text, const std::string& display,
                 const fs::path& path, bool is_main, Config& config,
                 std::vector<ConfigWarning>& warnings,
                 std::deque<Pending>& pending) {
  Result<toml::value> root = ParseToml(text, display);
  if (!root.ok()) return root.status();
  BERTH_RETURN_IF_ERROR(CheckVersion(*root, display, is_main));
  std::vector<config_file::Import> imports;
  BERTH_RETURN_IF_ERROR(config_file::Apply(*root, config, warnings, imports));
  return ResolveImports(path, imports, pending);
}

Result<Config> Load(Config config, const std::string& text,
                    const std::string& name,
                    std::vector<ConfigWarning>* warnings) {
  std::vector<ConfigWarning> ignored;
  std::vector<ConfigWarning>& w = warnings ? *warnings : ignored;
  fs::path main_path = Absolute(name);
  std::set<std::string> loaded = {Identity(main_path)};
  std::deque<Pending> pending;
  BERTH_RETURN_IF_ERROR(
      MergeText(text, name, main_path, true, config, w, pending));
  while (!pending.empty()) {
    Pending next = std::move(pending.front());
    pending.pop_front();
    if (!loaded.insert(Identity(next.path)).second) continue;
    Result<std::string> imported = ReadFile(next.path);
    if (!imported.ok()) {
      return Status(imported.status().code(),
                    next.from.where.ToString() + ": import \"" +
                        next.from.path + "\": " +
                        imported.status().message());
    }
    BERTH_RETURN_IF_ERROR(MergeText(*imported, next.path.string(), next.path,
                                    false, config, w, pending));
    config.imports.push_back(next.path.string());
  }
  config.source = name;
  return config;
}

}  // namespace

Result<Config> LoadConfig(const std::string& path,
                          std::vector<ConfigWarning>* warnings) {
  return LoadConfigOver(Config{}, path, warnings);
}

Result<Config> LoadConfigOver(const Config& base, const std::string& path,
                              std::vector<ConfigWarning>* warnings) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return Load(base, *text, path, warnings);
}

Result<Config> ParseConfig(const std::string& text, const std::string& name,
                           std::vector<ConfigWarning>* warnings) {
  return Load(Config{}, text, name, warnings);
}

Config EmbeddedDefault(const std::string& base,
                       const std::string& own_plugin_dir) {
  fs::path dir = Absolute(base);
  Config c;
  c.version = 2;
  c.root = (dir / "root").string();
  c.state = (dir / "state").string();
  c.grpc.address = (dir / "berthd.sock").string();
  c.ttrpc.address = "";
  c.plugin_dir = "";
  if (!own_plugin_dir.empty()) c.builtin_plugin_dirs = {own_plugin_dir};
  c.debug.level = "info";
  c.debug.format = "text";
  return c;
}

std::vector<ConfigWarning> UnknownPluginWarnings(
    const Config& config, const std::set<std::string>& known_uris) {
  std::vector<ConfigWarning> out;
  for (const auto& [key, table] : config.plugins) {
    if (known_uris.count(key)) continue;
    out.push_back({toml_util::LocationOf(table), "unknown plugin \"" + key + "\""});
  }
  return out;
}

}  // namespace berth::host
