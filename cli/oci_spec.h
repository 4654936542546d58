// The OCI runtime spec `berthctl run` gives a container, and what it takes
// from an image: containerd 1.6's default spec (what `ctr oci spec` prints),
// the image config's Env, Entrypoint, Cmd, WorkingDir and User applied as
// containerd's oci.WithImageConfig does, the chain id of the image's layers
// (containerd's identity.ChainID) and the choice of one manifest of an index.
//
// Pure functions over JSON text and values; thread-safe.
#ifndef BERTH_CLI_OCI_SPEC_H_
#define BERTH_CLI_OCI_SPEC_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "berth/status.h"

namespace berth::cli {

// The type URLs containerd gives a container's spec and an exec's process.
inline constexpr char kSpecTypeUrl[] =
    "types.containerd.io/opencontainers/runtime-spec/1/Spec";
inline constexpr char kProcessTypeUrl[] =
    "types.containerd.io/opencontainers/runtime-spec/1/Process";

// containerd's PATH for processes whose image sets none.
inline constexpr char kDefaultPathEnv[] =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// containerd's default spec for container `id` of namespace `ns`
// (linux.cgroupsPath "/ns/id"), root.path "rootfs", process.env the default
// PATH, no args yet.
nlohmann::json DefaultSpec(const std::string& ns, const std::string& id);

// What an image config (application/vnd.oci.image.config.v1+json) says
// about the process and the layers.
struct ImageConfig {
  std::vector<std::string> env;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;  // "" = unset
  std::string user;         // "" = unset
  std::vector<std::string> diff_ids;
};

// InvalidArgument when `json` is not an image config (not JSON, or
// rootfs.diff_ids missing or not strings).
Result<ImageConfig> ParseImageConfig(const std::string& json);

// Applies `config` to `spec` as oci.WithImageConfig: the image's Env over
// the spec's (same name replaced, new ones appended), its WorkingDir, its
// User when numeric ("uid" or "uid:gid"); process.args = Entrypoint + Cmd
// unless `args` is non-empty, then process.args = args. InvalidArgument when
// there is nothing to run, or the user is a name (not looked up).
Status ApplyImageConfig(const ImageConfig& config, const std::vector<std::string>& args,
                        nlohmann::json& spec);

// `base` with each NAME=value of `over` replacing the entry of that NAME or
// appended.
std::vector<std::string> MergeEnv(std::vector<std::string> base,
                                  const std::vector<std::string>& over);

// identity.ChainID: diff_ids[0], then sha256("<chain> <diff_id>") for each
// next one, as "sha256:<hex>". "" for no layers.
std::string ChainId(const std::vector<std::string>& diff_ids);

// Whether `media_type` is an index (OCI index or Docker manifest list).
bool IsIndexMediaType(const std::string& media_type);

// The digest of the manifest of `index_json` for platform `os`/`arch`.
// NotFound when none matches; InvalidArgument when it is not an index.
Result<std::string> PickManifest(const std::string& index_json, const std::string& os,
                                 const std::string& arch);

// The config digest of an image manifest. InvalidArgument when absent.
Result<std::string> ManifestConfigDigest(const std::string& manifest_json);

}  // namespace berth::cli

#endif  // BERTH_CLI_OCI_SPEC_H_
