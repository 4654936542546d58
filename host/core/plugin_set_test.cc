#include "core/plugin_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "berth/init_context.h"
#include "test_util.h"

namespace berth::host {
namespace {

using ::berth::host::testing::FixturePath;
using ::berth::host::testing::LogCapture;
using ::berth::host::testing::TempDir;
using ::testing::HasSubstr;

// Records its Close() in a shared journal.
class Recorder : public Plugin {
 public:
  Recorder(std::string uri, std::vector<std::string>* journal, bool throw_on_close)
      : uri_(std::move(uri)), journal_(journal), throw_on_close_(throw_on_close) {}
  Status Close() override {
    journal_->push_back(uri_);
    if (throw_on_close_) throw std::runtime_error("close exploded");
    return Status::Ok();
  }
  const std::string& uri() const { return uri_; }

 private:
  std::string uri_;
  std::vector<std::string>* journal_;
  bool throw_on_close_;
};

using InitFn = std::function<Result<std::shared_ptr<Plugin>>(InitContext&)>;

class PluginSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    params_.root = tmp_.path() + "/root";
    params_.state = tmp_.path() + "/state";
    params_.grpc_address = tmp_.path() + "/berth.sock";
    params_.ttrpc_address = tmp_.path() + "/berth.sock.ttrpc";
  }
  void TearDown() override { set_.Close(); }

  // A plugin that records its init and returns a Recorder.
  void AddOk(const std::string& type, const std::string& id,
             std::vector<std::string> requires_types = {},
             bool throw_on_close = false) {
    Add(type, id, std::move(requires_types),
        [this, uri = type + "." + id, throw_on_close](InitContext&)
            -> Result<std::shared_ptr<Plugin>> {
          inits_.push_back(uri);
          return std::shared_ptr<Plugin>(
              std::make_shared<Recorder>(uri, &closes_, throw_on_close));
        });
  }
  void Add(const std::string& type, const std::string& id,
           std::vector<std::string> requires_types, InitFn init,
           std::vector<std::string> optional_types = {}) {
    SourcedRegistration s;
    s.registration.type = type;
    s.registration.id = id;
    s.registration.required_types = std::move(requires_types);
    s.registration.optional_types = std::move(optional_types);
    s.registration.init = std::move(init);
    std::vector<SourcedRegistration> v;
    v.push_back(std::move(s));
    set_.Add(std::move(v));
  }
  void InitOk() {
    Status s = set_.Init(params_, &warnings_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  const PluginRecord& Record(const std::string& uri) {
    const PluginRecord* r = set_.Find(uri);
    EXPECT_NE(r, nullptr) << uri;
    static const PluginRecord kNone;
    return r != nullptr ? *r : kNone;
  }
  std::vector<std::string> RecordUris() const {
    std::vector<std::string> uris;
    for (const auto& r : set_.records()) uris.push_back(r->uri());
    return uris;
  }

  TempDir tmp_;
  InitParams params_;
  std::vector<ConfigWarning> warnings_;
  std::vector<std::string> inits_;
  std::vector<std::string> closes_;
  PluginSet set_;
};

TEST_F(PluginSetTest, InitsInGraphOrderAndRecordsEachOutcome) {
  AddOk("svc", "a", {"meta"});
  AddOk("meta", "m");
  Add("hw", "skipper", {}, [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
    return Status::SkipPlugin("no hardware here");
  });
  Add("hw", "thrower", {}, [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
    throw std::runtime_error("boom from init");
  });
  Add("hw", "failer", {}, [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
    return Status::Unavailable("device busy");
  });
  InitOk();
  EXPECT_EQ(inits_, (std::vector<std::string>{"meta.m", "svc.a"}));
  EXPECT_EQ(RecordUris(), (std::vector<std::string>{"meta.m", "svc.a", "hw.skipper",
                                                    "hw.thrower", "hw.failer"}));
  EXPECT_EQ(Record("svc.a").state, PluginState::kOk);
  EXPECT_NE(Record("svc.a").instance, nullptr);
  EXPECT_EQ(Record("hw.skipper").state, PluginState::kSkipped);
  EXPECT_EQ(Record("hw.skipper").init_status.ToString(), "no hardware here: skip plugin");
  EXPECT_EQ(Record("hw.thrower").state, PluginState::kFailed);
  EXPECT_EQ(Record("hw.thrower").init_status.ToString(), "boom from init: unknown");
  EXPECT_EQ(Record("hw.failer").state, PluginState::kFailed);
  EXPECT_EQ(Record("hw.failer").init_status.code(), Code::kUnavailable);
  EXPECT_EQ(Record("hw.failer").instance, nullptr);
}

TEST_F(PluginSetTest, LogsContainerdLines) {
  LogCapture capture(tmp_);
  ASSERT_TRUE(capture.ok());
  AddOk("io.containerd.content.v1", "content");
  Add("io.containerd.snapshotter.v1", "btrfs", {},
      [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
        return Status::SkipPlugin("path /x must be a btrfs filesystem");
      });
  Add("io.containerd.internal.v1", "bad", {},
      [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
        throw std::runtime_error("boom");
      });
  InitOk();
  const std::string text = capture.Text();
  EXPECT_THAT(text, HasSubstr(
      "level=info msg=\"loading plugin \\\"io.containerd.content.v1.content\\\"...\" "
      "type=io.containerd.content.v1\n"));
  EXPECT_THAT(text, HasSubstr(
      "level=info msg=\"skip loading plugin \\\"io.containerd.snapshotter.v1.btrfs\\\"...\" "
      "error=\"path /x must be a btrfs filesystem: skip plugin\" "
      "type=io.containerd.snapshotter.v1\n"));
  EXPECT_THAT(text, HasSubstr(
      "level=warning msg=\"failed to load plugin io.containerd.internal.v1.bad\" "
      "error=\"boom: unknown\"\n"));
}

TEST_F(PluginSetTest, MissingRequiredTypeNamesIt) {
  AddOk("svc", "needy", {"io.berth.test.absent.v1"});
  InitOk();
  const PluginRecord& r = Record("svc.needy");
  EXPECT_EQ(r.state, PluginState::kFailed);
  EXPECT_EQ(r.init_status.code(), Code::kFailedPrecondition);
  EXPECT_EQ(r.init_status.message(),
            "svc.needy: required plugin type \"io.berth.test.absent.v1\" not "
            "initialised: no plugin of that type");
  EXPECT_TRUE(inits_.empty());
}

TEST_F(PluginSetTest, DependentOfFailedPluginFailsNamingIt) {
  Add("meta", "bolt", {}, [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
    throw std::runtime_error("database locked");
  });
  AddOk("svc", "dep", {"meta"});
  AddOk("grpc", "top", {"svc"});
  InitOk();
  EXPECT_EQ(Record("svc.dep").state, PluginState::kFailed);
  EXPECT_THAT(Record("svc.dep").init_status.message(),
              HasSubstr("svc.dep: required plugin type \"meta\" not initialised: "
                        "meta.bolt: database locked"));
  // The failure travels up the chain, each naming what it needed.
  EXPECT_THAT(Record("grpc.top").init_status.message(),
              HasSubstr("required plugin type \"svc\" not initialised: svc.dep: "));
  EXPECT_TRUE(inits_.empty());
}

TEST_F(PluginSetTest, OptionalTypesOrderButAreNotNeeded) {
  Add(
      "meta", "bolt", {},
      [this](InitContext& ctx) -> Result<std::shared_ptr<Plugin>> {
        inits_.push_back("meta.bolt saw " + std::to_string(ctx.GetAll("snap").size()));
        return std::shared_ptr<Plugin>(std::make_shared<Recorder>("meta.bolt", &closes_, false));
      },
      {"snap"});
  AddOk("snap", "overlayfs");
  AddOk("gc", "scheduler");
  InitOk();
  EXPECT_EQ(Record("meta.bolt").state, PluginState::kOk);
  // Registered first, yet initialised after the snapshotter it may use.
  EXPECT_EQ(inits_, (std::vector<std::string>{"snap.overlayfs", "meta.bolt saw 1",
                                              "gc.scheduler"}));
}

TEST_F(PluginSetTest, MissingOptionalTypeIsFine) {
  Add(
      "svc", "leases", {},
      [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
        return std::shared_ptr<Plugin>(std::make_shared<Plugin>());
      },
      {"io.berth.test.absent.v1"});
  InitOk();
  EXPECT_EQ(Record("svc.leases").state, PluginState::kOk);
}

TEST_F(PluginSetTest, OneGoodPluginOfTheTypeIsEnough) {
  Add("snap", "btrfs", {}, [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
    return Status::SkipPlugin("not btrfs");
  });
  AddOk("snap", "overlayfs");
  AddOk("meta", "bolt", {"snap"});
  InitOk();
  EXPECT_EQ(Record("meta.bolt").state, PluginState::kOk);
}

TEST_F(PluginSetTest, LookupsFromADependent) {
  AddOk("x", "one");
  AddOk("x", "two");
  Add("y", "bad", {}, [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
    return Status::Unavailable("no socket");
  });
  std::vector<std::string> seen;
  Add("dep", "d", {"x"}, [&seen, this](InitContext& ic) -> Result<std::shared_ptr<Plugin>> {
    seen.push_back(ic.root());
    seen.push_back(ic.state());
    seen.push_back(ic.grpc_address());
    seen.push_back(ic.config() == nullptr ? "no config" : "config");
    auto first = ic.GetAs<Recorder>("x");
    seen.push_back(first.ok() ? (*first)->uri() : first.status().ToString());
    auto two = ic.GetByIDAs<Recorder>("x", "two");
    seen.push_back(two.ok() ? (*two)->uri() : two.status().ToString());
    seen.push_back(std::to_string(ic.GetAll("x").size()));
    seen.push_back(ic.GetByID("y", "bad").status().ToString());
    seen.push_back(ic.Get("y").status().ToString());
    seen.push_back(ic.Get("nothing").status().ToString());
    seen.push_back(ic.GetByID("later", "l").status().ToString());
    seen.push_back(std::to_string(ic.GetAll("y").size()));
    ic.meta().exports["k"] = "v";
    return std::shared_ptr<Plugin>(std::make_shared<Recorder>("dep.d", &closes_, false));
  });
  AddOk("later", "l");
  InitOk();
  const std::string root = tmp_.path();
  EXPECT_EQ(seen, (std::vector<std::string>{
                      root + "/root/dep.d", root + "/state/dep.d",
                      root + "/berth.sock", "no config", "x.one", "x.two", "2",
                      "y.bad: no socket: unavailable", "y.bad: no socket: unavailable",
                      "no plugins registered for nothing: not found",
                      "no later plugins with id l: not found", "0"}));
  EXPECT_EQ(Record("dep.d").meta.exports.at("k"), "v");
}

TEST_F(PluginSetTest, CloseRunsInReverseInitOrderAndReleases) {
  AddOk("grpc", "top", {"svc"});
  AddOk("svc", "mid", {"meta"}, /*throw_on_close=*/true);
  AddOk("meta", "base");
  InitOk();
  std::weak_ptr<Plugin> weak = Record("meta.base").instance;
  set_.Close();
  EXPECT_EQ(closes_, (std::vector<std::string>{"grpc.top", "svc.mid", "meta.base"}));
  EXPECT_TRUE(weak.expired());
  set_.Close();  // idempotent
  EXPECT_EQ(closes_.size(), 3u);
}

TEST_F(PluginSetTest, DisabledIsRecordedAndNotLoaded) {
  AddOk("meta", "bolt");
  AddOk("svc", "dep", {"meta"});
  AddOk("other", "o");
  params_.disabled = {"meta.bolt"};
  InitOk();
  EXPECT_EQ(RecordUris(), (std::vector<std::string>{"svc.dep", "other.o", "meta.bolt"}));
  EXPECT_EQ(Record("meta.bolt").state, PluginState::kDisabled);
  EXPECT_EQ(inits_, (std::vector<std::string>{"other.o"}));
  EXPECT_THAT(Record("svc.dep").init_status.message(),
              HasSubstr("not initialised: meta.bolt is disabled"));
}

TEST_F(PluginSetTest, CycleFailsInit) {
  AddOk("a", "a", {"b"});
  AddOk("b", "b", {"a"});
  Status s = set_.Init(params_, &warnings_);
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_EQ(s.message(), "plugin dependency cycle: a.a -> b.b -> a.a");
  EXPECT_TRUE(inits_.empty());
}

TEST_F(PluginSetTest, RequiredPluginsCheck) {
  AddOk("meta", "ok");
  Add("meta", "bad", {}, [](InitContext&) -> Result<std::shared_ptr<Plugin>> {
    throw std::runtime_error("disk on fire");
  });
  set_.AddLibraryFailures({LibraryFailure{
      "/p/bad-magic.so", "magic",
      Status::InvalidArgument("/p/bad-magic.so: magic: bad magic 0x1")}});
  InitOk();
  EXPECT_TRUE(set_.CheckRequired({"meta.ok"}).ok());
  Status s = set_.CheckRequired({"meta.ok", "meta.bad"});
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "required plugin meta.bad not initialised: disk on fire: unknown");
  s = set_.CheckRequired({"meta.bad", "io.containerd.snapshotter.v1.zfs"});
  EXPECT_EQ(s.message(),
            "required plugin meta.bad not initialised: disk on fire: unknown; "
            "required plugin io.containerd.snapshotter.v1.zfs not initialised: "
            "not found; library failures: /p/bad-magic.so: magic: bad magic 0x1");
  const PluginRecord& lib = Record("io.berth.library.v1.bad-magic");
  EXPECT_EQ(lib.state, PluginState::kFailed);
  EXPECT_EQ(lib.registration.type, kLibraryPseudoType);
  EXPECT_EQ(lib.registration.id, "bad-magic");
  EXPECT_EQ(RecordUris().back(), "io.berth.library.v1.bad-magic");
}

// The fixtures through loader and set: every broken library and init outcome.
TEST_F(PluginSetTest, BrokenFixturesEndToEnd) {
  PluginLoader loader;  // outlives `set`
  std::vector<SourcedRegistration> regs;
  loader.LoadDirectory(FixturePath("broken"), regs);
  PluginSet set;
  set.Add(std::move(regs));
  set.AddLibraryFailures(loader.failures());
  ASSERT_TRUE(set.Init(params_, &warnings_).ok());
  auto state = [&](const std::string& uri) {
    const PluginRecord* r = set.Find(uri);
    return r == nullptr ? std::string("absent") : r->init_status.ToString();
  };
  const std::string t = "io.containerd.internal.v1.";
  EXPECT_EQ(state(t + "init-throws"), "boom from init: unknown");
  EXPECT_EQ(state(t + "init-skips"), "no hardware here: skip plugin");
  EXPECT_THAT(state(t + "needs-missing"),
              HasSubstr("required plugin type \"io.berth.test.absent.v1\" not "
                        "initialised: no plugin of that type"));
  EXPECT_EQ(state(t + "dup"), "ok");
  EXPECT_EQ(set.Find(t + "init-skips")->state, PluginState::kSkipped);
  EXPECT_THAT(state("io.berth.library.v1.abi-major"), HasSubstr("abi version"));
  EXPECT_THAT(state("io.berth.library.v1.not-a-library"), HasSubstr(": open: "));
  Status required = set.CheckRequired({t + "hello"});
  EXPECT_THAT(required.message(), HasSubstr("not found; library failures: "));
  EXPECT_THAT(required.message(), HasSubstr("compiler-abi.so: compiler abi: "));
  set.Close();
}

toml::value ParseTable(const std::string& text) {
  std::istringstream in(text);
  return toml::parse(in, "config.toml");
}

// good/hello.so: its typed config, default and decoded, reaches its exports.
TEST_F(PluginSetTest, HelloConfigEndToEnd) {
  for (bool with_table : {false, true}) {
    PluginLoader loader;
    std::vector<SourcedRegistration> regs;
    ASSERT_TRUE(loader.LoadFile(FixturePath("good/hello.so"), regs).ok());
    std::map<std::string, toml::value> tables;
    if (with_table) {
      tables["io.containerd.internal.v1.hello"] =
          ParseTable("greeting = \"bonjour\"\nrepeat = 3\ninterval = \"1m30s\"\n");
    }
    InitParams params = params_;
    params.plugin_tables = &tables;
    PluginSet set;
    set.Add(std::move(regs));
    ASSERT_TRUE(set.Init(params, &warnings_).ok());
    const PluginRecord* r = set.Find("io.containerd.internal.v1.hello");
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->state, PluginState::kOk) << r->init_status.ToString();
    const auto& ex = r->meta.exports;
    EXPECT_EQ(ex.at("greeting"), with_table ? "bonjour" : "hello");
    EXPECT_EQ(ex.at("repeat"), with_table ? "3" : "1");
    EXPECT_EQ(ex.at("interval"), with_table ? "1m30s" : "5s");
    EXPECT_EQ(r->meta.capabilities, (std::vector<std::string>{"greet"}));
    set.Close();
  }
}

TEST_F(PluginSetTest, HelloBadConfigFailsThePlugin) {
  PluginLoader loader;
  std::vector<SourcedRegistration> regs;
  ASSERT_TRUE(loader.LoadFile(FixturePath("good/hello.so"), regs).ok());
  std::map<std::string, toml::value> tables;
  tables["io.containerd.internal.v1.hello"] = ParseTable("repeat = \"many\"\n");
  InitParams params = params_;
  params.plugin_tables = &tables;
  PluginSet set;
  set.Add(std::move(regs));
  ASSERT_TRUE(set.Init(params, &warnings_).ok());
  const PluginRecord* r = set.Find("io.containerd.internal.v1.hello");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->state, PluginState::kFailed);
  EXPECT_EQ(r->init_status.code(), Code::kInvalidArgument);
  EXPECT_THAT(r->init_status.message(), HasSubstr("repeat"));
  set.Close();
}

TEST_F(PluginSetTest, TableForPluginWithoutConfigIsAWarning) {
  AddOk("meta", "plain");
  std::map<std::string, toml::value> tables;
  tables["meta.plain"] = ParseTable("x = 1\n");
  params_.plugin_tables = &tables;
  InitOk();
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0].message, HasSubstr("\"meta.plain\" takes no configuration"));
  EXPECT_EQ(Record("meta.plain").state, PluginState::kOk);
}

}  // namespace
}  // namespace berth::host
