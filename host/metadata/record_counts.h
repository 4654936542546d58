// The metadata store's record counts, for the metrics endpoint: one scan of
// every namespace's records (v1/n/), counted by namespace and kind.
//
//   berth_metadata_content_blobs{namespace}
//   berth_metadata_content_ingests{namespace}
//   berth_metadata_snapshots{namespace,snapshotter}
//   berth_metadata_containers{namespace}
//   berth_metadata_images{namespace}
//   berth_metadata_leases{namespace}
//
// The scan reads LevelDB's iterator view and takes no lock; it costs one pass
// over the records each time it is called (once per scrape).
#ifndef BERTH_HOST_METADATA_RECORD_COUNTS_H_
#define BERTH_HOST_METADATA_RECORD_COUNTS_H_

#include <string>

#include "metadata/db.h"

namespace berth::host::metadata {

// The families above in Prometheus' text format; "" when the scan fails.
std::string RecordCountsText(const MetadataStore& db);

}  // namespace berth::host::metadata

#endif  // BERTH_HOST_METADATA_RECORD_COUNTS_H_
