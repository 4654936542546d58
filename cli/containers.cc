// `berthctl containers`: the containers service, printed as ctr prints it.
//   containers ls|list [-q] [FILTER...]
//   containers info [--spec] ID
//   containers rm|remove|delete|del [--keep-snapshot] ID...
//   containers label ID [K=V|K=]...
// Creating a container needs an OCI spec; use `ctr containers create` or
// `ctr run` for that.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "command.h"
#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "content_format.h"
#include "snapshot_format.h"

namespace berth::cli {
namespace {

namespace pb = containerd::services::containers::v1;
namespace snapshots_pb = containerd::services::snapshots::v1;

constexpr char kUsage[] =
    "usage: berthctl containers COMMAND\n"
    "  ls|list [-q] [FILTER...]\n"
    "  info [--spec] ID\n"
    "  rm|remove|delete|del [--keep-snapshot] ID...\n"
    "         (without --keep-snapshot the container's snapshot goes too)\n"
    "  label ID [LABEL=VALUE|LABEL=]...\n";

constexpr char kIndent[] = "    ";

struct Call {
  Client& client;
  std::unique_ptr<pb::Containers::Stub> stub;
  std::vector<std::string> words;
  po::variables_map vm;
};

// Go's tabwriter.NewWriter(w, 4, 8, 4, ' ', 0) over rows whose every cell
// ends in a tab: each cell padded with spaces to its column's widest cell
// plus 4 (at least 4).
std::string RenderSpacedColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(4);
      widths[i] = std::max(widths[i], row[i].size() + 4);
    }
  }
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      out += row[i] + std::string(widths[i] - row[i].size(), ' ');
    }
    out += "\n";
  }
  return out;
}

std::string Base64(const std::string& bytes) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63],
            kAlphabet[n & 63]};
  }
  if (i + 1 == bytes.size()) {
    const unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

// `json` (one JSON value, compact or not) indented as Go's MarshalIndent
// with `kIndent`, every line after the first starting with `prefix`. Empty
// when `json` is not well-formed enough to be re-indented.
std::string Reindent(const std::string& json, const std::string& prefix) {
  std::string out;
  std::string indent = prefix;
  int depth = 0;
  bool open = false;  // just after '{' or '['
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char ch = json[i];
    if (ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r') continue;
    if (open && ch != '}' && ch != ']') {
      out += "\n" + indent;
      open = false;
    }
    if (ch == '"') {
      const std::size_t start = i++;
      while (i < json.size() && json[i] != '"') i += json[i] == '\\' ? 2 : 1;
      if (i >= json.size()) return "";
      out.append(json, start, i - start + 1);
    } else if (ch == '{' || ch == '[') {
      out.push_back(ch);
      ++depth;
      indent += kIndent;
      open = true;
    } else if (ch == '}' || ch == ']') {
      if (--depth < 0) return "";
      indent.resize(indent.size() - (sizeof kIndent - 1));
      if (!open) out += "\n" + indent;
      open = false;
      out.push_back(ch);
    } else if (ch == ',') {
      out += ",\n" + indent;
    } else if (ch == ':') {
      out += ": ";
    } else {
      out.push_back(ch);
    }
  }
  return depth == 0 ? out : "";
}

// A google.protobuf.Any as Go marshals gogo's types.Any.
std::string AnyJson(const google::protobuf::Any& any, const std::string& prefix) {
  std::vector<std::string> fields;
  if (!any.type_url().empty()) fields.push_back("\"type_url\": " + JsonQuote(any.type_url()));
  if (!any.value().empty()) fields.push_back("\"value\": " + JsonQuote(Base64(any.value())));
  if (fields.empty()) return "{}";
  std::string out = "{";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    out += "\n" + prefix + kIndent + fields[i] + (i + 1 < fields.size() ? "," : "");
  }
  return out + "\n" + prefix + "}";
}

// `ctr containers info`: the container as indented JSON, its spec decoded
// (the spec's bytes are JSON), ending in a newline.
std::string RenderContainerJson(const pb::Container& c) {
  const std::string in1 = kIndent;
  const std::string in2 = in1 + kIndent;
  std::vector<std::string> fields;
  fields.push_back("\"ID\": " + JsonQuote(c.id()));
  std::map<std::string, std::string> labels(c.labels().begin(), c.labels().end());
  if (labels.empty()) {
    fields.push_back("\"Labels\": null");
  } else {
    std::string l = "\"Labels\": {";
    std::size_t i = 0;
    for (const auto& [k, v] : labels) {
      l += "\n" + in2 + JsonQuote(k) + ": " + JsonQuote(v) + (++i < labels.size() ? "," : "");
    }
    fields.push_back(l + "\n" + in1 + "}");
  }
  fields.push_back("\"Image\": " + JsonQuote(c.image()));
  fields.push_back("\"Runtime\": {\n" + in2 + "\"Name\": " + JsonQuote(c.runtime().name()) +
                   ",\n" + in2 + "\"Options\": " +
                   (c.runtime().has_options() ? AnyJson(c.runtime().options(), in2) : "null") +
                   "\n" + in1 + "}");
  fields.push_back("\"SnapshotKey\": " + JsonQuote(c.snapshot_key()));
  fields.push_back("\"Snapshotter\": " + JsonQuote(c.snapshotter()));
  fields.push_back("\"CreatedAt\": " +
                   JsonTime(c.created_at().seconds(), c.created_at().nanos()));
  fields.push_back("\"UpdatedAt\": " +
                   JsonTime(c.updated_at().seconds(), c.updated_at().nanos()));
  std::map<std::string, google::protobuf::Any> extensions(c.extensions().begin(),
                                                          c.extensions().end());
  if (extensions.empty()) {
    fields.push_back("\"Extensions\": null");
  } else {
    std::string e = "\"Extensions\": {";
    std::size_t i = 0;
    for (const auto& [k, v] : extensions) {
      e += "\n" + in2 + JsonQuote(k) + ": " + AnyJson(v, in2) +
           (++i < extensions.size() ? "," : "");
    }
    fields.push_back(e + "\n" + in1 + "}");
  }
  // Last, as ctr prints it (a field of its own beside the embedded record).
  if (c.has_spec()) {
    std::string spec = Reindent(c.spec().value(), in1);
    fields.push_back("\"Spec\": " + (spec.empty() ? AnyJson(c.spec(), in1) : spec));
  }
  std::string out = "{";
  for (std::size_t i = 0; i < fields.size(); ++i) {
    out += "\n" + in1 + fields[i] + (i + 1 < fields.size() ? "," : "");
  }
  return out + "\n}\n";
}

int GetContainer(Call& call, const std::string& id, pb::Container* out) {
  pb::GetContainerRequest req;
  req.set_id(id);
  pb::GetContainerResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->Get(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  *out = resp.container();
  return 0;
}

int RunList(Call& call) {
  pb::ListContainersRequest req;
  for (const auto& f : call.words) req.add_filters(f);
  pb::ListContainersResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->List(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  if (call.vm["quiet"].as<bool>()) {
    for (const auto& c : resp.containers()) std::cout << c.id() << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"CONTAINER", "IMAGE", "RUNTIME"}};
  for (const auto& c : resp.containers()) {
    rows.push_back({c.id(), c.image().empty() ? "-" : c.image(), c.runtime().name()});
  }
  std::cout << RenderSpacedColumns(rows);
  return 0;
}

int RunInfo(Call& call) {
  if (call.words.size() != 1 || call.words[0].empty()) {
    return ReportError("container id must be provided");
  }
  pb::Container c;
  if (int rc = GetContainer(call, call.words[0], &c); rc != 0) return rc;
  if (call.vm["spec"].as<bool>()) {
    std::string spec = c.has_spec() ? Reindent(c.spec().value(), "") : "";
    if (spec.empty()) return ReportError("container has no JSON spec");
    std::cout << spec << "\n";
    return 0;
  }
  std::cout << RenderContainerJson(c);
  return 0;
}

int RunRemove(Call& call) {
  if (call.words.empty()) return ReportError("must specify at least one container to delete");
  const bool keep_snapshot = call.vm["keep-snapshot"].as<bool>();
  auto snapshots = snapshots_pb::Snapshots::NewStub(call.client.channel());
  int exit_code = 0;
  for (const std::string& id : call.words) {
    pb::Container c;
    if (GetContainer(call, id, &c) != 0) {
      exit_code = 1;
      continue;
    }
    if (!keep_snapshot && !c.snapshot_key().empty() && !c.snapshotter().empty()) {
      snapshots_pb::RemoveSnapshotRequest req;
      req.set_snapshotter(c.snapshotter());
      req.set_key(c.snapshot_key());
      google::protobuf::Empty resp;
      auto ctx = call.client.NewCallContext();
      grpc::Status s = snapshots->Remove(ctx.get(), req, &resp);
      if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) {
        exit_code = ReportCallError(call.client, s);
        continue;
      }
    }
    pb::DeleteContainerRequest req;
    req.set_id(id);
    google::protobuf::Empty resp;
    auto ctx = call.client.NewCallContext();
    grpc::Status s = call.stub->Delete(ctx.get(), req, &resp);
    if (!s.ok()) {
      exit_code = ReportCallError(call.client, s);
      continue;
    }
  }
  return exit_code;
}

int RunLabel(Call& call) {
  if (call.words.empty() || call.words[0].empty()) {
    return ReportError("container id must be provided");
  }
  pb::UpdateContainerRequest req;
  req.mutable_container()->set_id(call.words[0]);
  for (const auto& [k, v] :
       ParseLabelArgs(std::vector<std::string>(call.words.begin() + 1, call.words.end()))) {
    if (!v.empty()) (*req.mutable_container()->mutable_labels())[k] = v;
    req.mutable_update_mask()->add_paths("labels." + k);
  }
  pb::UpdateContainerResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->Update(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  std::cout << JoinLabels({resp.container().labels().begin(), resp.container().labels().end()},
                          "")
            << "\n";
  return 0;
}

using VerbFn = int (*)(Call&);

VerbFn FindVerb(const std::string& verb) {
  static const std::map<std::string, VerbFn> verbs = {
      {"ls", RunList},       {"list", RunList},     {"info", RunInfo},
      {"rm", RunRemove},     {"remove", RunRemove}, {"delete", RunRemove},
      {"del", RunRemove},    {"label", RunLabel},
  };
  auto it = verbs.find(verb);
  return it == verbs.end() ? nullptr : it->second;
}

int RunContainers(Client& client, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 1 : 0;
  }
  const VerbFn verb = FindVerb(args[0]);
  if (verb == nullptr) {
    return ReportError("containers: unknown command \"" + args[0] + "\"\n" + kUsage);
  }
  po::options_description options("containers " + args[0]);
  // clang-format off
  options.add_options()
      ("quiet,q", po::bool_switch(), "print only the ids")
      ("spec", po::bool_switch(), "print only the spec")
      ("keep-snapshot", po::bool_switch(), "do not remove the container's snapshot")
      ("word", po::value<std::vector<std::string>>(), "arguments");
  // clang-format on
  auto vm = ParseArgs(std::vector<std::string>(args.begin() + 1, args.end()), options, "word");
  if (!vm.ok()) return ReportError(vm.status().message() + "\n" + kUsage);
  Call call{client, pb::Containers::NewStub(client.channel()), Words(*vm, "word"),
            std::move(*vm)};
  return verb(call);
}

}  // namespace

CommandGroup ContainersGroup() {
  return {"containers", "manage containers (ls, info, rm, label)", RunContainers};
}

}  // namespace berth::cli
