// ImageStore: containerd's image records (images.Store), per namespace: a
// name bound to a target descriptor. Images are roots of garbage
// collection: their target and, through containerd.io/gc.ref.content.*
// labels, every manifest, config and layer. Implemented by the metadata
// plugin (io.containerd.metadata.v1; berth/metadata.h). Thread-safe.
#ifndef BERTH_IMAGES_H_
#define BERTH_IMAGES_H_

#include <string>
#include <string_view>
#include <vector>

#include "berth/content.h"
#include "berth/descriptor.h"
#include "berth/filters.h"
#include "berth/plugin.h"
#include "berth/status.h"

namespace berth {

struct Image {
  std::string name;  // a reference, e.g. "docker.io/library/busybox:latest"
  Labels labels;
  Descriptor target;
  Timestamp created_at;
  Timestamp updated_at;
};

class ImageStore : public virtual Plugin {
 public:
  ~ImageStore() override;

  // NotFound when absent.
  virtual Result<Image> GetImage(std::string_view ns, std::string_view name) = 0;
  // The images matching `filter` (fields name, target.digest,
  // target.mediatype, labels.<key>).
  virtual Result<std::vector<Image>> ListImages(std::string_view ns,
                                                const filters::Filter& filter) = 0;
  // AlreadyExists; InvalidArgument for an empty name or target.
  virtual Result<Image> CreateImage(std::string_view ns, const Image& image) = 0;
  // Applies `fieldpaths` (labels, labels.<key>, target; none = all). NotFound.
  virtual Result<Image> UpdateImage(std::string_view ns, const Image& image,
                                    const std::vector<std::string>& fieldpaths) = 0;
  // NotFound.
  virtual Status DeleteImage(std::string_view ns, std::string_view name) = 0;
};

}  // namespace berth

#endif  // BERTH_IMAGES_H_
