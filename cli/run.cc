// `berthctl run`: a container and its task in one go, as `ctr run` does.
//   run [OPTIONS] IMAGE ID [CMD [ARG...]]
//   run [OPTIONS] --rootfs DIR ID CMD [ARG...]
// Options: -d/--detach, -t/--tty, --rm, --runtime NAME (default
// io.containerd.runc.v2), --snapshotter NAME (default overlayfs).
//
// With an image: its manifest (linux/amd64 of an index) and config are read
// through the images and content services; the spec takes the config's Env,
// WorkingDir, User and, with no CMD, Entrypoint + Cmd; the snapshot ID is
// prepared on the chain id of the layers (under a short-lived lease, so that
// a collection cannot take it before the container holds it) and its mounts
// go to Tasks.Create. With --rootfs, DIR is the spec's root and no snapshot
// is made.
//
// Foreground (the default): stdio is copied through fifos (TaskIo), the
// exit status of the task is berthctl's, and the task is deleted after it
// (with --rm, the container and its snapshot too). -d: exits 0 once the task
// has started, printing nothing, its stdio on /dev/null.
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>

#include "args.h"
#include "command.h"
#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "containerd/services/content/v1/content.grpc.pb.h"
#include "containerd/services/images/v1/images.grpc.pb.h"
#include "containerd/services/leases/v1/leases.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "oci_spec.h"
#include "task_process.h"

namespace berth::cli {
namespace {

namespace containers_pb = containerd::services::containers::v1;
namespace content_pb = containerd::services::content::v1;
namespace images_pb = containerd::services::images::v1;
namespace leases_pb = containerd::services::leases::v1;
namespace snapshots_pb = containerd::services::snapshots::v1;
using Mounts = google::protobuf::RepeatedPtrField<containerd::types::Mount>;

constexpr char kUsage[] =
    "usage: berthctl run [OPTIONS] IMAGE ID [CMD [ARG...]]\n"
    "       berthctl run [OPTIONS] --rootfs DIR ID CMD [ARG...]\n"
    "  -d, --detach           start the task and exit (stdio on /dev/null)\n"
    "  -t, --tty              give the process a terminal\n"
    "  --rm                   remove the container and its snapshot after the task\n"
    "  --runtime NAME         default io.containerd.runc.v2\n"
    "  --snapshotter NAME     default overlayfs\n";

constexpr char kDefaultRuntime[] = "io.containerd.runc.v2";
constexpr char kDefaultSnapshotter[] = "overlayfs";
constexpr char kLeaseExpire[] = "containerd.io/gc.expire";
constexpr auto kLeaseLife = std::chrono::hours(24);

struct RunOptions {
  bool detach = false, tty = false, remove = false, rootfs = false;
  std::string runtime = kDefaultRuntime;
  std::string snapshotter = kDefaultSnapshotter;
  std::string source;  // IMAGE or DIR
  std::string id;
  std::vector<std::string> args;
};

Result<RunOptions> ParseRunArgs(const std::vector<std::string>& args) {
  const std::size_t first = FirstWord(args, {"--runtime", "--snapshotter"});
  std::vector<std::string> flags(args.begin(), args.begin() + first);
  if (!flags.empty() && flags.back() == "--") flags.pop_back();
  po::options_description options("run");
  // clang-format off
  options.add_options()
      ("detach,d", po::bool_switch())
      ("tty,t", po::bool_switch())
      ("rm", po::bool_switch())
      ("rootfs", po::bool_switch())
      ("runtime", po::value<std::string>()->default_value(kDefaultRuntime))
      ("snapshotter", po::value<std::string>()->default_value(kDefaultSnapshotter));
  // clang-format on
  auto vm = ParseArgs(flags, options);
  if (!vm.ok()) return vm.status();
  RunOptions out;
  out.detach = (*vm)["detach"].as<bool>();
  out.tty = (*vm)["tty"].as<bool>();
  out.remove = (*vm)["rm"].as<bool>();
  out.rootfs = (*vm)["rootfs"].as<bool>();
  out.runtime = (*vm)["runtime"].as<std::string>();
  out.snapshotter = (*vm)["snapshotter"].as<std::string>();
  std::vector<std::string> words(args.begin() + first, args.end());
  if (words.size() < 2 || words[0].empty() || words[1].empty()) {
    return Status::InvalidArgument(out.rootfs ? "rootfs and container id must be provided"
                                              : "image ref and container id must be provided");
  }
  if (out.detach && out.remove) {
    return Status::InvalidArgument("flags --detach and --rm cannot be specified together");
  }
  out.source = words[0];
  out.id = words[1];
  out.args.assign(words.begin() + 2, words.end());
  if (out.rootfs && out.args.empty()) {
    return Status::InvalidArgument("a command must be provided with --rootfs");
  }
  return out;
}

// One `run`: the options and what has been made so far (for the clean-up).
struct Run {
  Client& client;
  RunOptions opts;
  std::unique_ptr<tasks_pb::Tasks::Stub> tasks;
  std::unique_ptr<containers_pb::Containers::Stub> containers;
  std::unique_ptr<snapshots_pb::Snapshots::Stub> snapshots;
  bool snapshot_made = false, container_made = false, task_made = false;
};

// A blob, whole, through Content.Read.
grpc::Status ReadBlob(Client& client, const std::string& digest, std::string* out) {
  auto stub = content_pb::Content::NewStub(client.channel());
  content_pb::ReadContentRequest req;
  req.set_digest(digest);
  auto ctx = client.NewCallContext();
  auto reader = stub->Read(ctx.get(), req);
  content_pb::ReadContentResponse chunk;
  out->clear();
  while (reader->Read(&chunk)) out->append(chunk.data());
  return reader->Finish();
}

// The image's config: Images.Get, then its manifest (linux/amd64 of an
// index) and config blob. Reports errors; 0 or the exit code.
int ReadImageConfig(Client& client, const std::string& ref, ImageConfig* config) {
  auto images = images_pb::Images::NewStub(client.channel());
  images_pb::GetImageRequest req;
  req.set_name(ref);
  images_pb::GetImageResponse resp;
  auto ctx = client.NewCallContext();
  grpc::Status s = images->Get(ctx.get(), req, &resp);
  if (!s.ok()) {
    return ReportCallError(client, grpc::Status(s.error_code(), "image \"" + ref + "\": " +
                                                                    s.error_message()));
  }
  std::string digest = resp.image().target().digest();
  std::string blob;
  if (s = ReadBlob(client, digest, &blob); !s.ok()) return ReportCallError(client, s);
  if (IsIndexMediaType(resp.image().target().media_type())) {
    auto manifest = PickManifest(blob, "linux", "amd64");
    if (!manifest.ok()) return ReportError("image \"" + ref + "\": " + manifest.status().message());
    digest = *manifest;
    if (s = ReadBlob(client, digest, &blob); !s.ok()) return ReportCallError(client, s);
  }
  auto config_digest = ManifestConfigDigest(blob);
  if (!config_digest.ok()) {
    return ReportError("image \"" + ref + "\": " + config_digest.status().message());
  }
  if (s = ReadBlob(client, *config_digest, &blob); !s.ok()) return ReportCallError(client, s);
  auto parsed = ParseImageConfig(blob);
  if (!parsed.ok()) return ReportError("image \"" + ref + "\": " + parsed.status().message());
  *config = std::move(*parsed);
  return 0;
}

// Undoes what was made: the task always (it cannot be left half-run), the
// container and snapshot when --rm asked or the container never came to be.
void CleanUp(Run& run) {
  if (run.task_made) {
    tasks_pb::DeleteTaskRequest req;
    req.set_container_id(run.opts.id);
    tasks_pb::DeleteResponse resp;
    auto ctx = run.client.NewCallContext();
    (void)run.tasks->Delete(ctx.get(), req, &resp);
  }
  const bool remove = run.opts.remove || !run.container_made;
  if (remove && run.container_made) {
    containers_pb::DeleteContainerRequest req;
    req.set_id(run.opts.id);
    google::protobuf::Empty resp;
    auto ctx = run.client.NewCallContext();
    grpc::Status s = run.containers->Delete(ctx.get(), req, &resp);
    if (!s.ok()) ReportCallError(run.client, s);
  }
  if (remove && run.snapshot_made) {
    snapshots_pb::RemoveSnapshotRequest req;
    req.set_snapshotter(run.opts.snapshotter);
    req.set_key(run.opts.id);
    google::protobuf::Empty resp;
    auto ctx = run.client.NewCallContext();
    grpc::Status s = run.snapshots->Remove(ctx.get(), req, &resp);
    if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) ReportCallError(run.client, s);
  }
}

// A lease for the snapshot until the container holds it (none when the
// user gave --lease: theirs holds it). "" when no lease was made.
std::string TakeLease(Client& client, std::unique_ptr<Client>* leased) {
  if (!client.options().lease.empty()) return "";
  auto leases = leases_pb::Leases::NewStub(client.channel());
  leases_pb::CreateRequest req;
  const auto expire = std::chrono::system_clock::now() + kLeaseLife;
  const std::time_t t = std::chrono::system_clock::to_time_t(expire);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  (*req.mutable_labels())[kLeaseExpire] = stamp;
  leases_pb::CreateResponse resp;
  auto ctx = client.NewCallContext();
  if (!leases->Create(ctx.get(), req, &resp).ok()) return "";
  ClientOptions options = client.options();
  options.lease = resp.lease().id();
  *leased = std::make_unique<Client>(std::move(options));
  return resp.lease().id();
}

void DropLease(Client& client, const std::string& lease) {
  if (lease.empty()) return;
  auto leases = leases_pb::Leases::NewStub(client.channel());
  leases_pb::DeleteRequest req;
  req.set_id(lease);
  google::protobuf::Empty resp;
  auto ctx = client.NewCallContext();
  (void)leases->Delete(ctx.get(), req, &resp);
}

// The spec, the snapshot (image) and the container. 0 or the exit code.
int CreateContainer(Run& run, Mounts* mounts) {
  const RunOptions& o = run.opts;
  nlohmann::json spec = DefaultSpec(run.client.options().name_space, o.id);
  std::string chain;
  if (o.rootfs) {
    spec["root"]["path"] = AbsolutePath(o.source);
    spec["process"]["args"] = o.args;
  } else {
    ImageConfig config;
    if (int rc = ReadImageConfig(run.client, o.source, &config); rc != 0) return rc;
    Status applied = ApplyImageConfig(config, o.args, spec);
    if (!applied.ok()) return ReportError(applied.message());
    chain = ChainId(config.diff_ids);
  }
  if (o.tty) {
    spec["process"]["terminal"] = true;
    spec["process"]["env"].push_back("TERM=xterm");
  }
  std::unique_ptr<Client> leased;
  const std::string lease = o.rootfs ? "" : TakeLease(run.client, &leased);
  Client& client = leased ? *leased : run.client;
  if (!o.rootfs) {
    snapshots_pb::PrepareSnapshotRequest req;
    req.set_snapshotter(o.snapshotter);
    req.set_key(o.id);
    req.set_parent(chain);
    snapshots_pb::PrepareSnapshotResponse resp;
    auto ctx = client.NewCallContext();
    grpc::Status s = run.snapshots->Prepare(ctx.get(), req, &resp);
    if (!s.ok()) {
      DropLease(run.client, lease);
      return ReportCallError(run.client, s);
    }
    run.snapshot_made = true;
    *mounts = resp.mounts();
  }
  containers_pb::CreateContainerRequest req;
  containers_pb::Container* c = req.mutable_container();
  c->set_id(o.id);
  if (!o.rootfs) {
    c->set_image(o.source);
    c->set_snapshotter(o.snapshotter);
    c->set_snapshot_key(o.id);
  }
  c->mutable_runtime()->set_name(o.runtime);
  c->mutable_spec()->set_type_url(kSpecTypeUrl);
  c->mutable_spec()->set_value(spec.dump());
  containers_pb::CreateContainerResponse resp;
  auto ctx = client.NewCallContext();
  grpc::Status s = run.containers->Create(ctx.get(), req, &resp);
  DropLease(run.client, lease);
  if (!s.ok()) return ReportCallError(run.client, s);
  run.container_made = true;
  return 0;
}

int RunTask(Run& run, const Mounts& mounts) {
  const RunOptions& o = run.opts;
  std::unique_ptr<TaskIo> io;
  if (!o.detach) {
    auto made = TaskIo::Create(o.id, o.tty);
    if (!made.ok()) return ReportError(made.status().message());
    io = std::move(*made);
    io->StartOutput();
  }
  std::unique_ptr<RawTerminal> raw;
  if (o.tty && !o.detach) raw = std::make_unique<RawTerminal>(STDIN_FILENO);
  tasks_pb::CreateTaskRequest req;
  req.set_container_id(o.id);
  *req.mutable_rootfs() = mounts;
  if (io) {
    req.set_stdin(io->stdin_path());
    req.set_stdout(io->stdout_path());
    req.set_stderr(io->stderr_path());
  }
  req.set_terminal(o.tty);
  tasks_pb::CreateTaskResponse resp;
  auto ctx = run.client.NewCallContext();
  grpc::Status s = run.tasks->Create(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(run.client, s);
  run.task_made = true;
  if (o.detach) {
    tasks_pb::StartRequest start;
    start.set_container_id(o.id);
    tasks_pb::StartResponse started;
    auto start_ctx = run.client.NewCallContext();
    s = run.tasks->Start(start_ctx.get(), start, &started);
    if (!s.ok()) return ReportCallError(run.client, s);
    run.task_made = false;  // it runs on; nothing to undo
    return 0;
  }
  std::uint32_t exit_status = 0;
  if (int rc = StartAndWait(run.client, *run.tasks, o.id, "", *io, &exit_status); rc != 0) {
    return rc;
  }
  raw.reset();
  run.task_made = false;
  if (int rc = DeleteTask(run.client, *run.tasks, o.id); rc != 0) return rc;
  return static_cast<int>(exit_status);
}

int RunRun(Client& client, const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  auto opts = ParseRunArgs(args);
  if (!opts.ok()) return ReportError(opts.status().message() + "\n" + kUsage);
  BlockTaskSignals();  // before gRPC starts its threads
  Run run{client,
          std::move(*opts),
          tasks_pb::Tasks::NewStub(client.channel()),
          containers_pb::Containers::NewStub(client.channel()),
          snapshots_pb::Snapshots::NewStub(client.channel())};
  Mounts mounts;
  int rc = CreateContainer(run, &mounts);
  if (rc == 0) rc = RunTask(run, mounts);
  if (run.opts.detach && rc == 0) return 0;
  CleanUp(run);
  return rc;
}

}  // namespace

CommandGroup RunGroup() {
  return {"run", "run a container from an image or a rootfs (like ctr run)", RunRun};
}

}  // namespace berth::cli
