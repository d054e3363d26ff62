#include "server/metrics/prometheus_text.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace chatgenius {
namespace {

void AppendEscaped(std::string* out, absl::string_view value) {
  for (const char c : value) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '"') {
      out->append("\\\"");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

}  // namespace

void AppendFamilyHeader(std::string* out, absl::string_view name, absl::string_view type,
                        absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

void AppendSample(std::string* out, absl::string_view name, const MetricLabels& labels,
                  double value) {
  out->append(name.data(), name.size());
  if (!labels.empty()) {
    out->push_back('{');
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out->push_back(',');
      absl::StrAppend(out, labels[i].first, "=\"");
      AppendEscaped(out, labels[i].second);
      out->push_back('"');
    }
    out->push_back('}');
  }
  // The exposition format spells the non-finite values +Inf, -Inf, NaN.
  if (std::isnan(value)) {
    out->append(" NaN\n");
  } else if (std::isinf(value)) {
    out->append(value > 0 ? " +Inf\n" : " -Inf\n");
  } else {
    absl::StrAppendFormat(out, " %.17g\n", value);
  }
}

void AppendGauge(std::string* out, absl::string_view name, absl::string_view help, double value) {
  AppendFamilyHeader(out, name, "gauge", help);
  AppendSample(out, name, {}, value);
}

void AppendCounter(std::string* out, absl::string_view name, absl::string_view help, double value) {
  AppendFamilyHeader(out, name, "counter", help);
  AppendSample(out, name, {}, value);
}

}  // namespace chatgenius
