// `berthctl namespaces`: the namespaces service, printed as ctr prints it.
//   namespaces create|c NAME [k=v...]
//   namespaces ls|list [-q]
//   namespaces rm|remove NAME...
//   namespaces label NAME [k=v|k=]...
#include <iostream>
#include <map>

#include "args.h"
#include "command.h"
#include "containerd/services/namespaces/v1/namespace.grpc.pb.h"
#include "content_format.h"
#include "snapshot_format.h"

namespace berth::cli {
namespace {

namespace pb = containerd::services::namespaces::v1;

constexpr char kUsage[] =
    "usage: berthctl namespaces COMMAND\n"
    "  create|c NAME [LABEL=VALUE...]\n"
    "  ls|list [-q]\n"
    "  rm|remove NAME...\n"
    "  label NAME [LABEL=VALUE|LABEL=]...\n";

// One verb's call state: the stub and the parsed words.
struct Call {
  Client& client;
  std::unique_ptr<pb::Namespaces::Stub> stub;
  std::vector<std::string> words;
  po::variables_map vm;
};

int RunCreate(Call& call) {
  if (call.words.empty() || call.words[0].empty()) {
    return ReportError("please specify a namespace");
  }
  pb::CreateNamespaceRequest req;
  req.mutable_namespace_()->set_name(call.words[0]);
  for (const auto& [k, v] : ParseLabelArgs(
           std::vector<std::string>(call.words.begin() + 1, call.words.end()))) {
    (*req.mutable_namespace_()->mutable_labels())[k] = v;
  }
  pb::CreateNamespaceResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->Create(ctx.get(), req, &resp);
  return s.ok() ? 0 : ReportCallError(call.client, s);
}

int RunList(Call& call) {
  if (!call.words.empty()) return ReportError(kUsage);
  pb::ListNamespacesRequest req;
  pb::ListNamespacesResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->List(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  if (call.vm["quiet"].as<bool>()) {
    for (const auto& ns : resp.namespaces()) std::cout << ns.name() << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"NAME", "LABELS"}};
  for (const auto& ns : resp.namespaces()) {
    rows.push_back({ns.name(), JoinLabels({ns.labels().begin(), ns.labels().end()}, "")});
  }
  std::cout << RenderPaddedColumns(rows);
  return 0;
}

int RunRemove(Call& call) {
  int exit_code = 0;
  for (const auto& name : call.words) {
    pb::DeleteNamespaceRequest req;
    req.set_name(name);
    google::protobuf::Empty resp;
    auto ctx = call.client.NewCallContext();
    grpc::Status s = call.stub->Delete(ctx.get(), req, &resp);
    if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) {
      exit_code = ReportCallError(
          call.client,
          grpc::Status(s.error_code(), "unable to delete " + name + ": " + s.error_message()));
      continue;
    }
    std::cout << name << "\n";
  }
  return exit_code;
}

int RunLabel(Call& call) {
  if (call.words.empty() || call.words[0].empty()) {
    return ReportError("please specify a namespace");
  }
  const auto labels =
      ParseLabelArgs(std::vector<std::string>(call.words.begin() + 1, call.words.end()));
  for (const auto& [k, v] : labels) {
    pb::UpdateNamespaceRequest req;
    req.mutable_namespace_()->set_name(call.words[0]);
    if (!v.empty()) (*req.mutable_namespace_()->mutable_labels())[k] = v;
    req.mutable_update_mask()->add_paths("labels." + k);
    pb::UpdateNamespaceResponse resp;
    auto ctx = call.client.NewCallContext();
    grpc::Status s = call.stub->Update(ctx.get(), req, &resp);
    if (!s.ok()) return ReportCallError(call.client, s);
  }
  return 0;
}

using VerbFn = int (*)(Call&);

// The verb's handler, or null for an unknown word.
VerbFn FindVerb(const std::string& verb) {
  static const std::map<std::string, VerbFn> verbs = {
      {"create", RunCreate}, {"c", RunCreate},      {"ls", RunList},
      {"list", RunList},     {"rm", RunRemove},     {"remove", RunRemove},
      {"label", RunLabel},
  };
  auto it = verbs.find(verb);
  return it == verbs.end() ? nullptr : it->second;
}

int RunNamespaces(Client& client, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 1 : 0;
  }
  const VerbFn verb = FindVerb(args[0]);
  if (verb == nullptr) {
    return ReportError("namespaces: unknown command \"" + args[0] + "\"\n" + kUsage);
  }
  po::options_description options("namespaces " + args[0]);
  options.add_options()
      ("quiet,q", po::bool_switch(), "print only the names")
      ("word", po::value<std::vector<std::string>>(), "arguments");
  auto vm = ParseArgs(std::vector<std::string>(args.begin() + 1, args.end()),
                      options, "word");
  if (!vm.ok()) return ReportError(vm.status().message() + "\n" + kUsage);
  Call call{client, pb::Namespaces::NewStub(client.channel()), Words(*vm, "word"),
            std::move(*vm)};
  return verb(call);
}

}  // namespace

CommandGroup NamespacesGroup() {
  return {"namespaces", "manage namespaces (create, ls, rm, label)", RunNamespaces};
}

}  // namespace berth::cli
