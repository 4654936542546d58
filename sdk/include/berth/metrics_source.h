// MetricsSource: a plugin that adds its figures to berthd's `[metrics]`
// endpoint (/v1/metrics). The host appends, after its own families, the text
// of every initialised plugin that implements this interface, in init order.
//
// Families should be named berth_<plugin>_..., carry # HELP and # TYPE lines,
// and not repeat another plugin's names.
#ifndef BERTH_METRICS_SOURCE_H_
#define BERTH_METRICS_SOURCE_H_

#include <string>

#include "berth/plugin.h"

namespace berth {

class MetricsSource : public virtual Plugin {
 public:
  ~MetricsSource() override;

  // The plugin's figures now, in Prometheus' text exposition format (lines
  // ending in '\n'). Called on the metrics server's thread, concurrently
  // with the plugin's other calls; must be quick and must not block on
  // another process.
  virtual std::string MetricsText() = 0;
};

}  // namespace berth

#endif  // BERTH_METRICS_SOURCE_H_
