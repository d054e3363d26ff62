// prometheus_text.h
//
// Helpers that append metric families in the Prometheus text exposition
// format (version 0.0.4): "# HELP", "# TYPE", then samples with escaped
// label values.
#ifndef CHATGENIUS_SERVER_METRICS_PROMETHEUS_TEXT_H_
#define CHATGENIUS_SERVER_METRICS_PROMETHEUS_TEXT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace chatgenius {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// AppendFamilyHeader appends the HELP and TYPE lines of a family.
void AppendFamilyHeader(std::string* out, absl::string_view name, absl::string_view type,
                        absl::string_view help);

// AppendSample appends `name{labels} value`.
void AppendSample(std::string* out, absl::string_view name, const MetricLabels& labels,
                  double value);

// AppendGauge / AppendCounter append a whole unlabelled family.
void AppendGauge(std::string* out, absl::string_view name, absl::string_view help, double value);
void AppendCounter(std::string* out, absl::string_view name, absl::string_view help, double value);

}  // namespace chatgenius

#endif  // CHATGENIUS_SERVER_METRICS_PROMETHEUS_TEXT_H_
