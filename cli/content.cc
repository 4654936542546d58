// `berthctl content`: the content service, printed as ctr prints it.
//   content ingest [--expected-size N] [--expected-digest D] [--label k=v]... REF < FILE
//   content ls|list [-q] [FILTER...]
//   content get DIGEST
//   content rm|remove|delete|del DIGEST...
//   content label DIGEST [k=v|k=]...
//   content active [FILTER]
//   content abort REF...
// Ingest and get stream for as long as the data takes (the --timeout bound
// applies to the other calls only).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>

#include "args.h"
#include "berth/digest.h"
#include "berth/grpc/content_client.h"
#include "berth/grpc/status.h"
#include "command.h"
#include "content_format.h"
#include "snapshot_format.h"

namespace berth::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kUsage[] =
    "usage: berthctl content COMMAND\n"
    "  ingest [--expected-size N] [--expected-digest D] [--label k=v]... REF < FILE\n"
    "  ls|list [-q] [FILTER...]\n"
    "  get DIGEST\n"
    "  rm|remove|delete|del DIGEST...\n"
    "  label DIGEST [LABEL=VALUE|LABEL=]...\n"
    "  active [FILTER]\n"
    "  abort REF...\n";

namespace content_pb = containerd::services::content::v1;
using grpc_util::ContentWriteStream;

// The size of each WRITE and of the buffer that feeds it.
constexpr std::size_t kChunkBytes = 1 << 20;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr auto kLockedRefWait = std::chrono::seconds(30);

// One verb's call state: the stub and the parsed words.
struct Call {
  Client& client;
  std::unique_ptr<content_pb::Content::Stub> stub;
  std::vector<std::string> words;
  po::variables_map vm;
};

std::chrono::system_clock::time_point TimeOf(const google::protobuf::Timestamp& t) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(t.seconds()) + std::chrono::nanoseconds(t.nanos())));
}

std::string AgeOf(const google::protobuf::Timestamp& t) {
  return HumanDuration(std::chrono::system_clock::now() - TimeOf(t));
}

// A call context without a deadline, for streams that last as long as their
// data.
std::unique_ptr<grpc::ClientContext> StreamContext(const Client& client) {
  auto context = client.NewCallContext();
  context->set_deadline(std::chrono::system_clock::time_point::max());
  return context;
}

// The progress bar on stderr, when stderr is a terminal; silent otherwise.
class Progress {
 public:
  Progress(std::string ref, std::int64_t total)
      : enabled_(isatty(STDERR_FILENO) == 1), ref_(std::move(ref)), total_(total) {}

  void Update(std::int64_t done, bool final_draw) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (!final_draw && now - last_draw_ < kRedrawInterval) return;
    last_draw_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate =
        seconds > 0 ? static_cast<double>(done - first_) / seconds : 0.0;
    std::string line = ProgressLine(ref_, done, total_, rate);
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_draw ? "\n" : "");
    std::fflush(stderr);
  }
  void StartAt(std::int64_t offset) { first_ = offset; }

 private:
  bool enabled_;
  std::string ref_;
  std::int64_t total_;
  std::int64_t first_ = 0;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
};

// Reads until `buf` is full or the input ends; the count, or -1 on error.
ssize_t ReadFull(int fd, char* buf, std::size_t size) {
  std::size_t got = 0;
  while (got < size) {
    ssize_t n = read(fd, buf + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

// Positions stdin at `offset` to resume an ingest: a seek on a file,
// otherwise the bytes are read and dropped.
bool SkipInput(int fd, std::int64_t offset, std::string& buf) {
  if (lseek(fd, offset, SEEK_SET) == offset) return true;
  while (offset > 0) {
    const auto want = static_cast<std::size_t>(
        std::min<std::int64_t>(offset, static_cast<std::int64_t>(buf.size())));
    ssize_t n = ReadFull(fd, buf.data(), want);
    if (n <= 0) return false;
    offset -= n;
  }
  return true;
}

// The input's size when it is a regular file read from its start; else 0.
std::int64_t InputSize(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  const off_t at = lseek(fd, 0, SEEK_CUR);
  return at < 0 ? 0 : st.st_size - at;
}

// The content client's calls report berthd's gRPC status as it came (the
// client's own errors as their gRPC equivalent), for ReportCallError.
class CallStatus {
 public:
  // For one call; forgets an earlier call's status.
  grpc_util::ContentClientOptions Options() {
    raw_ = grpc::Status::OK;
    grpc_util::ContentClientOptions options;
    options.error = [this](const grpc::Status& status, bool overran) {
      raw_ = status;
      return grpc_util::DefaultCallError(status, overran);
    };
    return options;
  }
  grpc::Status Of(const Status& status) const {
    if (status.ok()) return grpc::Status::OK;
    return raw_.ok() ? grpc_util::ToGrpc(status) : raw_;
  }

 private:
  grpc::Status raw_;
};

// Opens the ingest `ref`. While another writer holds the ref (berthd answers
// Unavailable on a live connection), tries again with a growing pause, for
// at most the call timeout (30 s when there is none), as ctr waits for a
// locked ref.
grpc::Status OpenWriter(Call& call, const std::string& ref, std::int64_t size,
                        const std::string& expected, CallStatus& status,
                        std::unique_ptr<ContentWriteStream>& stream) {
  const auto bound = call.client.options().timeout.count() > 0
                         ? call.client.options().timeout
                         : std::chrono::nanoseconds(kLockedRefWait);
  const auto deadline = Clock::now() + bound;
  auto pause = std::chrono::milliseconds(10);
  for (;;) {
    stream = std::make_unique<ContentWriteStream>(*call.stub, StreamContext(call.client),
                                                  status.Options());
    grpc::Status s = status.Of(stream->Open(ref, size, expected));
    const bool locked = s.error_code() == grpc::StatusCode::UNAVAILABLE &&
                        call.client.channel()->GetState(false) == GRPC_CHANNEL_READY;
    if (!locked || Clock::now() + pause > deadline) return s;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

int RunIngest(Call& call) {
  if (call.words.size() != 1 || call.words[0].empty()) {
    return ReportError("must specify a transaction reference");
  }
  const std::string ref = call.words[0];
  const std::int64_t size = call.vm["expected-size"].as<std::int64_t>();
  const std::string expected = call.vm["expected-digest"].as<std::string>();
  if (!expected.empty()) {
    Status s = ValidateDigest(expected);
    if (!s.ok()) return ReportError(s.message());
  }
  std::map<std::string, std::string> labels;
  if (call.vm.count("label")) {
    labels = ParseLabelArgs(call.vm["label"].as<std::vector<std::string>>());
  }

  CallStatus status;
  std::unique_ptr<ContentWriteStream> opened;
  grpc::Status s = OpenWriter(call, ref, size, expected, status, opened);
  if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) return 0;
  if (!s.ok()) return ReportCallError(call.client, s);
  ContentWriteStream& stream = *opened;

  std::string buf(kChunkBytes, '\0');
  if (stream.offset() > 0 && !SkipInput(STDIN_FILENO, stream.offset(), buf)) {
    (void)stream.Close();
    return ReportError("unable to resume write to " + ref + ": input shorter than " +
                       std::to_string(stream.offset()) + " bytes already written");
  }
  Progress progress(ref, size > 0 ? size : stream.offset() + InputSize(STDIN_FILENO));
  progress.StartAt(stream.offset());
  for (;;) {
    ssize_t n = ReadFull(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0) {
      (void)stream.Close();
      return ReportError(std::string("reading stdin: ") + std::strerror(errno));
    }
    if (n == 0) break;
    if (!stream.Write(std::string_view(buf.data(), static_cast<std::size_t>(n))).ok()) break;
    progress.Update(stream.offset(), false);
  }
  s = status.Of(stream.Commit(size, expected, labels).status());
  progress.Update(stream.offset(), true);
  if (s.ok() || s.error_code() == grpc::StatusCode::ALREADY_EXISTS) return 0;
  return ReportCallError(call.client, s);
}

int RunList(Call& call) {
  content_pb::ListContentRequest req;
  for (const auto& f : call.words) req.add_filters(f);
  auto ctx = call.client.NewCallContext();
  auto reader = call.stub->List(ctx.get(), req);
  const bool quiet = call.vm["quiet"].as<bool>();
  std::vector<std::vector<std::string>> rows = {{"DIGEST", "SIZE", "AGE", "LABELS"}};
  content_pb::ListContentResponse resp;
  while (reader->Read(&resp)) {
    for (const auto& info : resp.info()) {
      if (quiet) {
        std::cout << info.digest() << "\n";
        continue;
      }
      rows.push_back({info.digest(), HumanSize(static_cast<double>(info.size())),
                      AgeOf(info.created_at()),
                      JoinLabels({info.labels().begin(), info.labels().end()}, "-")});
    }
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return ReportCallError(call.client, s);
  if (!quiet) std::cout << RenderTabColumns(rows);
  return 0;
}

int RunGet(Call& call) {
  if (call.words.size() != 1) return ReportError(kUsage);
  Status valid = ValidateDigest(call.words[0]);
  if (!valid.ok()) return ReportError(valid.message());
  bool write_failed = false;
  CallStatus status;
  grpc::Status s = status.Of(grpc_util::ReadContent(
      *call.stub, StreamContext(call.client), call.words[0], 0, 0,
      [&](std::string_view data) {
        write_failed = std::fwrite(data.data(), 1, data.size(), stdout) != data.size();
        return !write_failed;
      },
      status.Options()));
  if (write_failed) return ReportError(std::string("writing stdout: ") + std::strerror(errno));
  if (!s.ok()) return ReportCallError(call.client, s);
  return std::fflush(stdout) == 0 ? 0 : ReportError("writing stdout failed");
}

int RunRemove(Call& call) {
  int exit_code = 0;
  for (const auto& digest : call.words) {
    Status valid = ValidateDigest(digest);
    if (!valid.ok()) {
      exit_code = ReportError("could not delete " + digest + ": " + valid.message());
      continue;
    }
    content_pb::DeleteContentRequest req;
    req.set_digest(digest);
    google::protobuf::Empty resp;
    auto ctx = call.client.NewCallContext();
    grpc::Status s = call.stub->Delete(ctx.get(), req, &resp);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) continue;
    if (!s.ok()) {
      exit_code = ReportCallError(
          call.client,
          grpc::Status(s.error_code(), "could not delete " + digest + ": " + s.error_message()));
      continue;
    }
    std::cout << digest << "\n";
  }
  return exit_code;
}

int RunLabel(Call& call) {
  if (call.words.empty()) return ReportError(kUsage);
  const std::string digest = call.words[0];
  Status valid = ValidateDigest(digest);
  if (!valid.ok()) return ReportError(valid.message());
  const auto labels =
      ParseLabelArgs(std::vector<std::string>(call.words.begin() + 1, call.words.end()));
  content_pb::Info info;
  grpc::Status s;
  auto ctx = call.client.NewCallContext();
  if (labels.empty()) {
    content_pb::InfoRequest req;
    req.set_digest(digest);
    content_pb::InfoResponse resp;
    s = call.stub->Info(ctx.get(), req, &resp);
    info = resp.info();
  } else {
    content_pb::UpdateRequest req;
    req.mutable_info()->set_digest(digest);
    for (const auto& [k, v] : labels) {
      req.mutable_update_mask()->add_paths("labels." + k);
      if (!v.empty()) (*req.mutable_info()->mutable_labels())[k] = v;
    }
    content_pb::UpdateResponse resp;
    s = call.stub->Update(ctx.get(), req, &resp);
    info = resp.info();
  }
  if (!s.ok()) return ReportCallError(call.client, s);
  std::cout << JoinLabels({info.labels().begin(), info.labels().end()}, "") << "\n";
  return 0;
}

int RunActive(Call& call) {
  if (call.words.size() > 1) return ReportError(kUsage);
  content_pb::ListStatusesRequest req;
  if (!call.words.empty()) req.add_filters(call.words[0]);
  content_pb::ListStatusesResponse resp;
  auto ctx = call.client.NewCallContext();
  grpc::Status s = call.stub->ListStatuses(ctx.get(), req, &resp);
  if (!s.ok()) return ReportCallError(call.client, s);
  std::vector<std::vector<std::string>> rows = {{"REF", "SIZE", "AGE", ""}};
  for (const auto& st : resp.statuses()) {
    rows.push_back({st.ref(), HumanSize(static_cast<double>(st.offset())),
                    AgeOf(st.started_at()), ""});
  }
  std::cout << RenderTabColumns(rows);
  return 0;
}

int RunAbort(Call& call) {
  if (call.words.empty()) return ReportError(kUsage);
  for (const auto& ref : call.words) {
    content_pb::AbortRequest req;
    req.set_ref(ref);
    google::protobuf::Empty resp;
    auto ctx = call.client.NewCallContext();
    grpc::Status s = call.stub->Abort(ctx.get(), req, &resp);
    if (!s.ok()) return ReportCallError(call.client, s);
  }
  return 0;
}

using VerbFn = int (*)(Call&);

// The verb's handler, or null for an unknown word.
VerbFn FindVerb(const std::string& verb) {
  static const std::map<std::string, VerbFn> verbs = {
      {"ingest", RunIngest}, {"ls", RunList},         {"list", RunList},
      {"get", RunGet},       {"rm", RunRemove},       {"remove", RunRemove},
      {"delete", RunRemove}, {"del", RunRemove},      {"label", RunLabel},
      {"active", RunActive}, {"abort", RunAbort},
  };
  auto it = verbs.find(verb);
  return it == verbs.end() ? nullptr : it->second;
}

int RunContent(Client& client, const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 1 : 0;
  }
  const VerbFn verb = FindVerb(args[0]);
  if (verb == nullptr) {
    return ReportError("content: unknown command \"" + args[0] + "\"\n" + kUsage);
  }
  po::options_description options("content " + args[0]);
  // clang-format off
  options.add_options()
      ("quiet,q", po::bool_switch(), "print only the digests")
      ("expected-size", po::value<std::int64_t>()->default_value(0),
       "validate against this size")
      ("expected-digest", po::value<std::string>()->default_value(""),
       "verify against this digest")
      ("label", po::value<std::vector<std::string>>(), "label of the blob (k=v)")
      ("word", po::value<std::vector<std::string>>(), "arguments");
  // clang-format on
  auto vm = ParseArgs(std::vector<std::string>(args.begin() + 1, args.end()),
                      options, "word");
  if (!vm.ok()) return ReportError(vm.status().message() + "\n" + kUsage);
  Call call{client, content_pb::Content::NewStub(client.channel()),
            Words(*vm, "word"), std::move(*vm)};
  return verb(call);
}

}  // namespace

CommandGroup ContentGroup() {
  return {"content", "manage content (ingest, ls, get, rm, label, active, abort)",
          RunContent};
}

}  // namespace berth::cli
