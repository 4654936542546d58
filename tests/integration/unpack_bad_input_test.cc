// Bad layers imported with the stock ctr into berthd and, beside it, a
// private containerd 1.6.20: truncated, corrupt gzip, larger than their
// descriptor, of an unknown media type, a missing config blob. berthd fails
// the import naming the layer and the reason, leaves no committed snapshot
// for the bad layer and no active one, and keeps what containerd keeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "oci_archive.h"
#include "unpack_fixture.h"

namespace berth::test {
namespace {

// One bad archive: imported into both, its outcome on each.
struct BadOutcome {
  CommandResult berthd;
  CommandResult containerd;
  std::string berthd_ls;
  std::string containerd_ls;
};

class UnpackBadInputTest : public UnpackVsContainerdTest {
 protected:
  // A good base layer, then `bad`.
  OciImage TwoLayers(const std::string& name, OciLayer bad) {
    OciLayer base{{FileEntry("base", "the good layer\n")}, LayerCompression::kGzip, ""};
    return BuildOciImage(name, {base, bad});
  }
  BadOutcome ImportBoth(const OciImage& image, const std::string& file) {
    BadOutcome o;
    o.berthd = Import(*berthd_, scratch_, image, "overlayfs", "b-" + file);
    o.containerd = Import(*containerd_, scratch_, image, "overlayfs", "c-" + file);
    o.berthd_ls = berthd_->Ok({"snapshots", "ls"});
    o.containerd_ls = containerd_->Ok({"snapshots", "ls"});
    return o;
  }
  // berthd failed extracting the bad layer (ctr names it by its diff_id) for
  // `reason`; no snapshot for the bad layer, no active leftover, the good
  // base layer committed.
  void ExpectRejected(const OciImage& image, const BadOutcome& o, const std::string& reason) {
    EXPECT_NE(o.berthd.exit_code, 0) << o.berthd.Describe();
    EXPECT_TRUE(Contains(o.berthd.err, "failed to extract layer " + image.DiffIds().back()));
    EXPECT_TRUE(Contains(o.berthd.err, reason)) << Daemon::Tail(berthd_->Log());
    const auto committed = SnapshotKeys(o.berthd_ls, "Committed");
    EXPECT_FALSE(Has(committed, image.ChainIds().back())) << o.berthd_ls;
    EXPECT_TRUE(Has(committed, image.ChainIds().front())) << o.berthd_ls;
    EXPECT_TRUE(SnapshotKeys(o.berthd_ls, "Active").empty()) << o.berthd_ls;
    // Where containerd failed too, it kept the same snapshots.
    if (o.containerd.exit_code != 0) {
      auto theirs = SnapshotKeys(o.containerd_ls, "Committed");
      auto ours = committed;
      std::sort(theirs.begin(), theirs.end());
      std::sort(ours.begin(), ours.end());
      EXPECT_EQ(ours, theirs) << "berthd:\n" << o.berthd_ls << "containerd:\n" << o.containerd_ls;
    }
    PrintOutcome(o);
  }
  // Both answers, side by side in the test's output.
  static void PrintOutcome(const BadOutcome& o) {
    std::cout << "[ berthd     ] exit " << o.berthd.exit_code << ": " << LastLine(o.berthd.err)
              << "\n[ containerd ] exit " << o.containerd.exit_code << ": "
              << LastLine(o.containerd.err) << "\n";
  }
  static std::string LastLine(const std::string& text) {
    std::string t = text;
    while (!t.empty() && t.back() == '\n') t.pop_back();
    const auto at = t.rfind('\n');
    return at == std::string::npos ? t : t.substr(at + 1);
  }
};

TEST_F(UnpackBadInputTest, TruncatedLayer) {
  OciImage image = TwoLayers(
      "example.com/unpack/truncated:v1",
      {{FileEntry("data", DeterministicBytes(256 * 1024, 1))}, LayerCompression::kGzip, ""});
  auto& blob = image.layers[1].blob;
  blob.resize(blob.size() / 2);
  BadOutcome o = ImportBoth(image, "truncated.tar");
  ExpectRejected(image, o, "unexpected EOF");
  EXPECT_NE(o.containerd.exit_code, 0) << "containerd took a truncated layer";
}

TEST_F(UnpackBadInputTest, CorruptGzip) {
  std::string text;
  for (int i = 0; i < 4000; ++i) text += "line " + std::to_string(i) + " of a compressible file\n";
  OciImage image = TwoLayers("example.com/unpack/corrupt:v1",
                             {{FileEntry("text", text)}, LayerCompression::kGzip, ""});
  auto& blob = image.layers[1].blob;
  for (std::size_t i = blob.size() / 3; i < blob.size() / 3 + 16; ++i)
    blob[i] = static_cast<char>(~blob[i]);
  BadOutcome o = ImportBoth(image, "corrupt.tar");
  // The differ's own check (zlib: "incorrect data check"), not only ctr's
  // comparison of the returned digest with the config's diff_id.
  ExpectRejected(image, o, "failed to decompress layer " + Sha256Of(blob) + ": gzip: ");
  EXPECT_NE(o.containerd.exit_code, 0) << "containerd took a corrupt gzip";
}

TEST_F(UnpackBadInputTest, LayerLargerThanItsDescriptor) {
  OciImage image = TwoLayers(
      "example.com/unpack/oversized:v1",
      {{FileEntry("data", DeterministicBytes(64 * 1024, 2))}, LayerCompression::kGzip, ""});
  image.layers[1].descriptor_size = static_cast<std::int64_t>(image.layers[1].blob.size()) - 100;
  BadOutcome o = ImportBoth(image, "oversized.tar");
  ExpectRejected(image, o, "is larger than its descriptor");
  // A difference: containerd 1.6.20 reads the blob by its stored size and
  // unpacks it; berthd's differ holds the descriptor to its word.
  EXPECT_EQ(o.containerd.exit_code, 0) << o.containerd.Describe();
}

TEST_F(UnpackBadInputTest, UnknownLayerMediaType) {
  OciImage image =
      TwoLayers("example.com/unpack/mediatype:v1", {{FileEntry("data", "x\n")},
                                                    LayerCompression::kGzip,
                                                    "application/vnd.example.layer.v1.tar+lz4"});
  BadOutcome o = ImportBoth(image, "mediatype.tar");
  ExpectRejected(image, o,
                 "failed to get stream processor for application/vnd.example.layer.v1.tar+lz4");
  EXPECT_NE(o.containerd.exit_code, 0) << "containerd took an unknown media type";
}

TEST_F(UnpackBadInputTest, ConfigBlobMissing) {
  OciImage image = TwoLayers("example.com/unpack/noconfig:v1",
                             {{FileEntry("data", "x\n")}, LayerCompression::kGzip, ""});
  image.write_config = false;
  BadOutcome o = ImportBoth(image, "noconfig.tar");
  // Nothing can be unpacked without the diff_ids: no snapshot at all.
  EXPECT_EQ(o.berthd.exit_code != 0, o.containerd.exit_code != 0)
      << "berthd: " << o.berthd.Describe() << "\ncontainerd: " << o.containerd.Describe();
  EXPECT_NE(o.berthd.exit_code, 0) << o.berthd.Describe();
  EXPECT_TRUE(SnapshotKeys(o.berthd_ls, "Committed").empty()) << o.berthd_ls;
  EXPECT_TRUE(SnapshotKeys(o.berthd_ls, "Active").empty()) << o.berthd_ls;
  // containerd: "failed to resolve rootfs: content digest sha256:…: not
  // found"; berthd's content store says "content sha256:…: not found".
  EXPECT_TRUE(Contains(o.berthd.err, "failed to resolve rootfs: "));
  EXPECT_TRUE(Contains(o.berthd.err, Sha256Of(image.ConfigJson()) + ": not found"));
  PrintOutcome(o);
}

}  // namespace
}  // namespace berth::test
