// `berthctl leases`: the leases service, printed as ctr prints it.
//   leases create [--id ID] [--label K=V]... [--expire DUR] [K=V...]
//   leases ls|list [-q] [FILTER...]
//   leases rm|remove|delete [--sync] ID...
#include <chrono>
#include <iostream>
#include <map>

#include "args.h"
#include "berth/config.h"
#include "command.h"
#include "containerd/services/leases/v1/leases.grpc.pb.h"
#include "content_format.h"
#include "snapshot_format.h"

namespace berth::cli {
namespace {

namespace pb = containerd::services::leases::v1;

constexpr char kUsage[] =
    "usage: berthctl leases COMMAND\n"
    "  create [--id ID] [--label K=V]... [--expire DUR] [K=V...]\n"
    "         (no --expire: the lease lives until removed)\n"
    "  ls|list [-q] [FILTER...]\n"
    "  rm|remove|delete [--sync] ID...   (--sync: return after a collection)\n";

constexpr char kExpireLabel[] = "containerd.io/gc.expire";

struct Call {
  Client& client;
  std::unique_ptr<pb::Leases::Stub> stub;
  std::vector<std::string> words;
  po::variables_map vm;
};

// Left-aligned columns, each one space wider than its widest cell.
std::string RenderColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 1, ' ');
    }
    out += line + "\n";
  }
  return out;
}

int RunCreate(Call& call) {
  pb::CreateRequest req;
  if (call.vm.count("id")) req.set_id(call.vm["id"].as<std::string>());
  std::vector<std::string> label_words = call.words;
  if (call.vm.count("label")) {
    for (const auto& l : call.vm["label"].as<std::vector<std::string>>()) label_words.push_back(l);
  }
  for (const auto& [k, v] : ParseLabelArgs(label_words)) (*req.mutable_labels())[k] = v;
  if (call.vm.count("expire")) {
    Duration d;
    const std::string text = call.vm["expire"].as<std::string>();
    if (!ParseDuration(text, d)) return ReportError("invalid --expire \"" + text + "\"");
    if (d.value.count() > 0) {
      const auto when = std::chrono::system_clock::now() + d.value;
      const auto secs =
          std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
      const std::string quoted = JsonTime(secs, 0);
      (*req.mutable_labels())[kExpireLabel] = quoted.substr(1, quoted.size() - 2);
    }
  }
  pb::CreateResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->Create(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  std::cout << resp.lease().id() << "\n";
  return 0;
}

int RunList(Call& call) {
  pb::ListRequest req;
  for (const auto& f : call.words) req.add_filters(f);
  pb::ListResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->List(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  if (call.vm["quiet"].as<bool>()) {
    for (const auto& l : resp.leases()) std::cout << l.id() << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"ID", "CREATED AT", "LABELS"}};
  for (const auto& l : resp.leases()) {
    const std::string created = JsonTime(l.created_at().seconds(), 0);
    rows.push_back({l.id(), created.substr(1, created.size() - 2),
                    JoinLabels({l.labels().begin(), l.labels().end()}, "-")});
  }
  std::cout << RenderColumns(rows);
  return 0;
}

int RunRemove(Call& call) {
  if (call.words.empty()) return ReportError(kUsage);
  const bool sync = call.vm["sync"].as<bool>();
  for (std::size_t i = 0; i < call.words.size(); ++i) {
    pb::DeleteRequest req;
    req.set_id(call.words[i]);
    req.set_sync(sync && i + 1 == call.words.size());  // one collection, after the last
    google::protobuf::Empty resp;
    auto ctx = call.client.NewCallContext();
    grpc::Status s = call.stub->Delete(ctx.get(), req, &resp);
    if (!s.ok()) return ReportCallError(call.client, s);
    std::cout << call.words[i] << "\n";
  }
  return 0;
}

using VerbFn = int (*)(Call&);

VerbFn FindVerb(const std::string& verb) {
  static const std::map<std::string, VerbFn> verbs = {
      {"create", RunCreate}, {"ls", RunList},       {"list", RunList},
      {"rm", RunRemove},     {"remove", RunRemove}, {"delete", RunRemove},
  };
  auto it = verbs.find(verb);
  return it == verbs.end() ? nullptr : it->second;
}

int RunLeases(Client& client, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 1 : 0;
  }
  const VerbFn verb = FindVerb(args[0]);
  if (verb == nullptr) {
    return ReportError("leases: unknown command \"" + args[0] + "\"\n" + kUsage);
  }
  po::options_description options("leases " + args[0]);
  // clang-format off
  options.add_options()
      ("quiet,q", po::bool_switch(), "print only the ids")
      ("sync", po::bool_switch(), "return after a collection")
      ("id", po::value<std::string>(), "the lease's id (default: made up)")
      ("label", po::value<std::vector<std::string>>(), "K=V")
      ("expire", po::value<std::string>(), "expire after DUR (Go duration)")
      ("word", po::value<std::vector<std::string>>(), "arguments");
  // clang-format on
  auto vm = ParseArgs(std::vector<std::string>(args.begin() + 1, args.end()), options, "word");
  if (!vm.ok()) return ReportError(vm.status().message() + "\n" + kUsage);
  Call call{client, pb::Leases::NewStub(client.channel()), Words(*vm, "word"), std::move(*vm)};
  return verb(call);
}

}  // namespace

CommandGroup LeasesGroup() { return {"leases", "manage leases (create, ls, rm)", RunLeases}; }

}  // namespace berth::cli
