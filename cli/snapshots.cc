// `berthctl snapshots`: the snapshots service, printed as ctr prints it.
//   snapshots [--snapshotter NAME] VERB ...
// VERB is prepare, view, commit, rm, ls, info, mounts, usage, label, tree or
// cleanup; --snapshotter may also follow the verb. The snapshotter defaults
// to $CONTAINERD_SNAPSHOTTER, else "overlayfs".
#include <chrono>
#include <cstdlib>
#include <iostream>

#include "args.h"
#include "berth/time.h"
#include "command.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "snapshot_format.h"

namespace berth::cli {
namespace {

namespace pb = containerd::services::snapshots::v1;

constexpr char kUsage[] =
    "usage: berthctl snapshots [--snapshotter NAME] COMMAND\n"
    "  prepare [--target|-t DIR] [--mounts] KEY [PARENT]\n"
    "  view [--target|-t DIR] [--mounts] KEY [PARENT]\n"
    "  commit NAME KEY\n"
    "  rm|remove|delete|del KEY...\n"
    "  ls|list [filter...]\n"
    "  info KEY\n"
    "  mounts|mount|m TARGET KEY\n"
    "  usage [-b] [KEY...]\n"
    "  label KEY [LABEL=VALUE...]\n"
    "  tree\n"
    "  cleanup\n";

constexpr char kGcRootLabel[] = "containerd.io/gc.root";

std::string DefaultSnapshotter() {
  const char* env = std::getenv("CONTAINERD_SNAPSHOTTER");
  return env != nullptr && *env != '\0' ? env : "overlayfs";
}

// One verb's call state: the stub, the snapshotter, the parsed words.
struct Call {
  Client& client;
  std::unique_ptr<pb::Snapshots::Stub> stub;
  std::string snapshotter;
  std::vector<std::string> words;
  po::variables_map vm;
};

std::vector<MountRow> MountRows(
    const google::protobuf::RepeatedPtrField<containerd::types::Mount>& mounts) {
  std::vector<MountRow> rows;
  for (const auto& m : mounts) {
    rows.push_back({m.type(), m.source(), {m.options().begin(), m.options().end()}});
  }
  return rows;
}

SnapshotRow RowOf(const pb::Info& info) {
  SnapshotRow row;
  row.name = info.name();
  row.parent = info.parent();
  switch (info.kind()) {
    case pb::VIEW: row.kind = "View"; break;
    case pb::ACTIVE: row.kind = "Active"; break;
    case pb::COMMITTED: row.kind = "Committed"; break;
    default: row.kind = "Unknown"; break;
  }
  row.labels.insert(info.labels().begin(), info.labels().end());
  row.created_seconds = info.created_at().seconds();
  row.created_nanos = info.created_at().nanos();
  row.updated_seconds = info.updated_at().seconds();
  row.updated_nanos = info.updated_at().nanos();
  return row;
}

grpc::Status ListAll(Call& call, const std::vector<std::string>& filters,
                     std::vector<SnapshotRow>& rows) {
  pb::ListSnapshotsRequest req;
  req.set_snapshotter(call.snapshotter);
  for (const auto& f : filters) req.add_filters(f);
  auto ctx = call.client.NewCallContext();
  auto reader = call.stub->List(ctx.get(), req);
  pb::ListSnapshotsResponse resp;
  while (reader->Read(&resp)) {
    for (const auto& info : resp.info()) rows.push_back(RowOf(info));
  }
  return reader->Finish();
}

int PrintCreated(Call& call, const google::protobuf::RepeatedPtrField<
                                 containerd::types::Mount>& mounts) {
  const std::vector<MountRow> rows = MountRows(mounts);
  const std::string target = call.vm["target"].as<std::string>();
  if (!target.empty()) std::cout << RenderMountCommands(target, rows);
  if (call.vm["mounts"].as<bool>()) std::cout << RenderMountsJson(rows);
  return 0;
}

int RunPrepare(Call& call) {
  if (call.words.empty() || call.words.size() > 2) return ReportError(kUsage);
  pb::PrepareSnapshotRequest req;
  req.set_snapshotter(call.snapshotter);
  req.set_key(call.words[0]);
  if (call.words.size() > 1) req.set_parent(call.words[1]);
  (*req.mutable_labels())[kGcRootLabel] = FormatRfc3339(std::chrono::system_clock::now());
  pb::PrepareSnapshotResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->Prepare(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  return PrintCreated(call, resp.mounts());
}

int RunView(Call& call) {
  if (call.words.empty() || call.words.size() > 2) return ReportError(kUsage);
  pb::ViewSnapshotRequest req;
  req.set_snapshotter(call.snapshotter);
  req.set_key(call.words[0]);
  if (call.words.size() > 1) req.set_parent(call.words[1]);
  pb::ViewSnapshotResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->View(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  return PrintCreated(call, resp.mounts());
}

int RunCommit(Call& call) {
  if (call.words.size() != 2) return ReportError(kUsage);
  pb::CommitSnapshotRequest req;
  req.set_snapshotter(call.snapshotter);
  req.set_name(call.words[0]);
  req.set_key(call.words[1]);
  (*req.mutable_labels())[kGcRootLabel] = FormatRfc3339(std::chrono::system_clock::now());
  google::protobuf::Empty resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->Commit(ctx.get(), req, &resp);
  return s.ok() ? 0 : ReportCallError(call.client, s);
}

int RunRemove(Call& call) {
  for (const auto& key : call.words) {
    pb::RemoveSnapshotRequest req;
    req.set_snapshotter(call.snapshotter);
    req.set_key(key);
    google::protobuf::Empty resp;
    auto ctx = call.client.NewCallContext();
    grpc::Status s = call.stub->Remove(ctx.get(), req, &resp);
    if (!s.ok()) {
      return ReportCallError(
          call.client, grpc::Status(s.error_code(),
                                    "failed to remove " + JsonQuote(key) + ": " +
                                        s.error_message()));
    }
  }
  return 0;
}

int RunList(Call& call) {
  std::vector<SnapshotRow> rows;
  grpc::Status s = ListAll(call, call.words, rows);
  if (!s.ok()) return ReportCallError(call.client, s);
  std::vector<std::vector<std::string>> table = {{"KEY", "PARENT", "KIND"}};
  for (const auto& r : rows) table.push_back({r.name, r.parent, r.kind});
  std::cout << RenderPaddedColumns(table);
  return 0;
}

grpc::Status Stat(Call& call, const std::string& key, pb::Info& info) {
  pb::StatSnapshotRequest req;
  req.set_snapshotter(call.snapshotter);
  req.set_key(key);
  pb::StatSnapshotResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->Stat(ctx.get(), req, &resp);
  info = resp.info();
  return s;
}

int RunInfo(Call& call) {
  if (call.words.size() != 1) return ReportError(kUsage);
  pb::Info info;
  grpc::Status s = Stat(call, call.words[0], info);
  if (!s.ok()) return ReportCallError(call.client, s);
  std::cout << RenderInfoJson(RowOf(info));
  return 0;
}

int RunMounts(Call& call) {
  if (call.words.size() != 2) return ReportError(kUsage);
  pb::MountsRequest req;
  req.set_snapshotter(call.snapshotter);
  req.set_key(call.words[1]);
  pb::MountsResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->Mounts(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  std::cout << RenderMountCommands(call.words[0], MountRows(resp.mounts()));
  return 0;
}

int RunUsage(Call& call) {
  std::vector<std::string> keys = call.words;
  if (keys.empty()) {
    std::vector<SnapshotRow> rows;
    grpc::Status s = ListAll(call, {}, rows);
    if (!s.ok()) return ReportCallError(call.client, s);
    for (const auto& r : rows) keys.push_back(r.name);
  }
  const bool bytes = call.vm["bytes"].as<bool>();
  std::vector<std::vector<std::string>> table = {{"KEY", "SIZE", "INODES"}};
  for (const auto& key : keys) {
    pb::UsageRequest req;
    req.set_snapshotter(call.snapshotter);
    req.set_key(key);
    pb::UsageResponse resp;
    auto ctx = call.client.NewCallContext();
    grpc::Status s = call.stub->Usage(ctx.get(), req, &resp);
    if (!s.ok()) return ReportCallError(call.client, s);
    table.push_back({key, bytes ? std::to_string(resp.size()) : HumanBytes(resp.size()),
                     std::to_string(resp.inodes())});
  }
  std::cout << RenderPaddedColumns(table);
  return 0;
}

int RunLabel(Call& call) {
  if (call.words.empty()) return ReportError(kUsage);
  const std::string key = call.words[0];
  const auto labels =
      ParseLabelArgs(std::vector<std::string>(call.words.begin() + 1, call.words.end()));
  pb::Info info;
  grpc::Status s;
  if (labels.empty()) {
    s = Stat(call, key, info);
  } else {
    pb::UpdateSnapshotRequest req;
    req.set_snapshotter(call.snapshotter);
    req.mutable_info()->set_name(key);
    for (const auto& [k, v] : labels) {
      req.mutable_update_mask()->add_paths("labels." + k);
      if (!v.empty()) (*req.mutable_info()->mutable_labels())[k] = v;
    }
    pb::UpdateSnapshotResponse resp;
    auto ctx = call.client.NewCallContext();
    s = call.stub->Update(ctx.get(), req, &resp);
    info = resp.info();
  }
  if (!s.ok()) return ReportCallError(call.client, s);
  std::string joined;
  for (const auto& [k, v] : RowOf(info).labels) {
    joined += (joined.empty() ? "" : ",") + k + "=" + v;
  }
  std::cout << joined << "\n";
  return 0;
}

int RunTree(Call& call) {
  if (!call.words.empty()) return ReportError(kUsage);
  std::vector<SnapshotRow> rows;
  grpc::Status s = ListAll(call, {}, rows);
  if (!s.ok()) return ReportCallError(call.client, s);
  std::cout << RenderTree(rows);
  return 0;
}

int RunCleanup(Call& call) {
  if (!call.words.empty()) return ReportError(kUsage);
  pb::CleanupRequest req;
  req.set_snapshotter(call.snapshotter);
  google::protobuf::Empty resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->Cleanup(ctx.get(), req, &resp);
  return s.ok() ? 0 : ReportCallError(call.client, s);
}

using VerbFn = int (*)(Call&);

// The verb's handler, or null for an unknown word.
VerbFn FindVerb(const std::string& verb) {
  static const std::map<std::string, VerbFn> verbs = {
      {"prepare", RunPrepare}, {"view", RunView},       {"commit", RunCommit},
      {"rm", RunRemove},       {"remove", RunRemove},   {"delete", RunRemove},
      {"del", RunRemove},      {"ls", RunList},         {"list", RunList},
      {"info", RunInfo},       {"mounts", RunMounts},   {"mount", RunMounts},
      {"m", RunMounts},        {"usage", RunUsage},     {"label", RunLabel},
      {"tree", RunTree},       {"cleanup", RunCleanup},
  };
  auto it = verbs.find(verb);
  return it == verbs.end() ? nullptr : it->second;
}

int RunSnapshots(Client& client, const std::vector<std::string>& args) {
  std::string snapshotter = DefaultSnapshotter();
  std::size_t i = 0;
  // Group options before the verb, as ctr takes them.
  while (i < args.size() && args[i].rfind("--snapshotter", 0) == 0) {
    if (args[i] == "--snapshotter" && i + 1 < args.size()) {
      snapshotter = args[i + 1];
      i += 2;
    } else if (args[i].rfind("--snapshotter=", 0) == 0) {
      snapshotter = args[i].substr(14);
      ++i;
    } else {
      return ReportError(std::string("snapshots: --snapshotter needs a value\n") + kUsage);
    }
  }
  if (i >= args.size() || args[i] == "--help" || args[i] == "-h") {
    std::cout << kUsage;
    return i >= args.size() ? 1 : 0;
  }
  const VerbFn verb = FindVerb(args[i]);
  if (verb == nullptr) {
    return ReportError("snapshots: unknown command \"" + args[i] + "\"\n" + kUsage);
  }
  po::options_description options("snapshots " + args[i]);
  options.add_options()
      ("snapshotter", po::value<std::string>(&snapshotter), "snapshotter name")
      ("target,t", po::value<std::string>()->default_value(""), "mount target")
      ("mounts", po::bool_switch(), "print the mounts as JSON")
      ("bytes,b", po::bool_switch(), "sizes in bytes")
      ("word", po::value<std::vector<std::string>>(), "arguments");
  auto vm = ParseArgs(std::vector<std::string>(args.begin() + i + 1, args.end()),
                      options, "word");
  if (!vm.ok()) return ReportError(vm.status().message() + "\n" + kUsage);
  Call call{client, pb::Snapshots::NewStub(client.channel()), snapshotter,
            Words(*vm, "word"), std::move(*vm)};
  return verb(call);
}

}  // namespace

CommandGroup SnapshotsGroup() {
  return {"snapshots", "manage snapshots (prepare, commit, ls, tree, ...)", RunSnapshots};
}

}  // namespace berth::cli
