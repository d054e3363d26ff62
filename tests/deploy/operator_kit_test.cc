// The operator's kit names only what the service exports: every metric a
// Grafana panel, a dashboard variable or a Prometheus rule queries, and every
// label it matches on, groups by or prints, appears in the /metrics of a real
// server (through a real SSH tunnel, so the tunnel's families are there) after
// a call. A renamed metric or label fails here instead of leaving an empty
// panel or an alert that can never fire.
#include <httplib.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "chatgenius/db/v1/user_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/private_sshd.h"
#include "tests/support/test_database.h"
#include "tests/support/test_server.h"

namespace chatgenius {
namespace {

namespace v1 = ::chatgenius::db::v1;
using google::protobuf::Value;
using grpc::health::v1::HealthCheckResponse;

// Exported maps each metric name the server exposes (families from "# TYPE"
// and every sample name, e.g. a histogram's _bucket) to its label names.
using Exported = std::map<std::string, std::set<std::string>>;

Exported ParseExposition(const std::string& text) {
  Exported out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "# TYPE ")) {
      std::vector<std::string> words = absl::StrSplit(line, ' ');
      if (words.size() >= 3) out[words[2]];
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    size_t end = line.find_first_of("{ ");
    if (end == absl::string_view::npos) continue;
    std::set<std::string>& labels = out[std::string(line.substr(0, end))];
    if (line[end] != '{') continue;
    // name="value",... with backslash escapes inside the quotes.
    size_t i = end + 1;
    while (i < line.size() && line[i] != '}') {
      size_t eq = line.find('=', i);
      if (eq == absl::string_view::npos) break;
      labels.insert(std::string(line.substr(i, eq - i)));
      i = eq + 2;  // past ="
      while (i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
      i += 1;  // past the closing quote
      if (i < line.size() && line[i] == ',') ++i;
    }
  }
  return out;
}

// Query is one PromQL expression of the kit and the labels printed from its
// result (legend templates, alert annotations, label_values' label).
struct Query {
  std::string where;
  std::string expr;
  std::set<std::string> printed_labels;
};

std::set<std::string> Matches(const std::string& text, const std::regex& re, int group) {
  std::set<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
    out.insert((*it)[group].str());
  }
  return out;
}

std::string WithoutStrings(const std::string& expr) {
  static const std::regex kString(R"("(?:[^"\\]|\\.)*"|`[^`]*`)");
  return std::regex_replace(expr, kString, "\"\"");
}

std::set<std::string> MetricsOf(const std::string& expr) {
  static const std::regex kMetric(R"(\b(chatgenius_[a-zA-Z0-9_]+))");
  return Matches(WithoutStrings(expr), kMetric, 1);
}

std::set<std::string> RecordedNamesOf(const std::string& expr) {
  static const std::regex kRecorded(R"(\b(chatgenius:[a-zA-Z0-9_:]+))");
  return Matches(WithoutStrings(expr), kRecorded, 1);
}

// LabelsOf: label names in matchers ({code=~"..."}) and in by/without lists.
std::set<std::string> LabelsOf(const std::string& expr) {
  static const std::regex kSelector(R"(\{([^}]*)\})");
  static const std::regex kMatcher(R"(([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=))");
  static const std::regex kGrouping(R"(\b(by|without)\s*\(([^)]*)\))");
  static const std::regex kName(R"([a-zA-Z_][a-zA-Z0-9_]*)");
  const std::string bare = WithoutStrings(expr);
  std::set<std::string> out;
  for (const std::string& selector : Matches(bare, kSelector, 1)) {
    for (const std::string& l : Matches(selector, kMatcher, 1)) out.insert(l);
  }
  for (const std::string& list : Matches(bare, kGrouping, 2)) {
    for (const std::string& l : Matches(list, kName, 0)) out.insert(l);
  }
  return out;
}

// Templates print labels as {{instance}} (Grafana legends) or
// {{ $labels.instance }} (Prometheus annotations).
std::set<std::string> PrintedLabels(const std::string& text) {
  static const std::regex kLegend(R"(\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\})");
  static const std::regex kAnnotation(R"(\$labels\.([a-zA-Z_][a-zA-Z0-9_]*))");
  std::set<std::string> out = Matches(text, kLegend, 1);
  for (const std::string& l : Matches(text, kAnnotation, 1)) out.insert(l);
  return out;
}

// Problems lists what `queries` name that `exported` lacks. A recorded name
// must be defined by a rule in `recorded` (name -> its expression), and
// stands for the metrics of that expression. `job` and `instance` are the
// labels Prometheus adds to every scraped series.
std::vector<std::string> Problems(const std::vector<Query>& queries, const Exported& exported,
                                  const std::map<std::string, std::string>& recorded) {
  std::vector<std::string> problems;
  for (const Query& q : queries) {
    std::set<std::string> metrics = MetricsOf(q.expr);
    for (const std::string& name : RecordedNamesOf(q.expr)) {
      auto it = recorded.find(name);
      if (it == recorded.end()) {
        problems.push_back(absl::StrCat(q.where, ": no rule records ", name));
        continue;
      }
      for (const std::string& m : MetricsOf(it->second)) metrics.insert(m);
    }
    std::set<std::string> available = {"job", "instance"};
    for (const std::string& m : metrics) {
      auto it = exported.find(m);
      if (it == exported.end()) {
        problems.push_back(absl::StrCat(q.where, ": the server exports no ", m));
        continue;
      }
      available.insert(it->second.begin(), it->second.end());
    }
    if (metrics.empty() && RecordedNamesOf(q.expr).empty())
      problems.push_back(absl::StrCat(q.where, ": names no metric: ", q.expr));
    std::set<std::string> labels = LabelsOf(q.expr);
    labels.insert(q.printed_labels.begin(), q.printed_labels.end());
    for (const std::string& l : labels) {
      if (available.count(l) == 0) {
        problems.push_back(absl::StrCat(q.where, ": no metric it names has the label ", l, " (",
                                        absl::StrJoin(metrics, ", "), ")"));
      }
    }
  }
  return problems;
}

std::string ReadData(const std::string& path) {
  std::ifstream in(absl::StrCat(std::getenv("TEST_SRCDIR"), "/chatgenius_db/", path));
  EXPECT_TRUE(in.good()) << path << " must be a data dependency";
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Rules reads every rule of the rule file: alerts and recordings as
// queries (with the labels their annotations print), and the recorded names.
void ReadRules(std::vector<Query>* queries, std::map<std::string, std::string>* recorded) {
  YAML::Node root = YAML::Load(ReadData("deploy/prometheus/chatgenius-db.rules.yml"));
  for (const YAML::Node& group : root["groups"]) {
    for (const YAML::Node& rule : group["rules"]) {
      Query q;
      q.expr = rule["expr"].as<std::string>();
      if (rule["record"]) {
        q.where = absl::StrCat("rule ", rule["record"].as<std::string>());
        (*recorded)[rule["record"].as<std::string>()] = q.expr;
      } else {
        q.where = absl::StrCat("alert ", rule["alert"].as<std::string>());
        for (const auto& annotation : rule["annotations"]) {
          for (const std::string& l : PrintedLabels(annotation.second.as<std::string>())) {
            q.printed_labels.insert(l);
          }
        }
      }
      queries->push_back(std::move(q));
    }
  }
}

const Value* Field(const Value& v, const std::string& name) {
  if (!v.has_struct_value()) return nullptr;
  auto it = v.struct_value().fields().find(name);
  return it == v.struct_value().fields().end() ? nullptr : &it->second;
}

std::string StringField(const Value& v, const std::string& name) {
  const Value* f = Field(v, name);
  return f != nullptr && f->has_string_value() ? f->string_value() : "";
}

void ReadPanels(const Value& panels, std::vector<Query>* queries) {
  for (const Value& panel : panels.list_value().values()) {
    if (const Value* nested = Field(panel, "panels")) ReadPanels(*nested, queries);
    const Value* targets = Field(panel, "targets");
    if (targets == nullptr) continue;
    for (const Value& target : targets->list_value().values()) {
      queries->push_back({absl::StrCat("panel \"", StringField(panel, "title"), "\" query ",
                                       StringField(target, "refId")),
                          StringField(target, "expr"),
                          PrintedLabels(StringField(target, "legendFormat"))});
    }
  }
}

// ReadDashboard: every panel's targets, and the query variables
// (label_values(<selector>, <label>)).
std::vector<Query> ReadDashboard() {
  Value dashboard;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      ReadData("deploy/grafana/chatgenius-db.json"), &dashboard);
  EXPECT_TRUE(parsed.ok()) << parsed.ToString();
  std::vector<Query> queries;
  if (const Value* panels = Field(dashboard, "panels")) ReadPanels(*panels, &queries);
  static const std::regex kLabelValues(R"(^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$)");
  const Value* templating = Field(dashboard, "templating");
  const Value* list = templating == nullptr ? nullptr : Field(*templating, "list");
  if (list == nullptr) return queries;
  for (const Value& variable : list->list_value().values()) {
    if (StringField(variable, "type") != "query") continue;
    const Value* query = Field(variable, "query");
    std::string text = query == nullptr            ? ""
                       : query->has_string_value() ? query->string_value()
                                                   : StringField(*query, "query");
    std::smatch m;
    Query q{absl::StrCat("variable $", StringField(variable, "name")), text, {}};
    if (std::regex_match(text, m, kLabelValues)) {
      q.expr = m[1].str();
      q.printed_labels.insert(m[2].str());
    }
    queries.push_back(std::move(q));
  }
  return queries;
}

class OperatorKitTest : public ::testing::Test {
 protected:
  // A server as production runs it (through the tunnel, caller tokens on)
  // with /metrics on, after one CreateUser (so the per-method request and
  // latency series exist).
  Exported ScrapeRealServer() {
    const std::string tokens = absl::StrCat(std::getenv("TEST_TMPDIR"), "/tokens");
    std::ofstream(tokens)  // sha256 of "s3cret-gateway"
        << "f32a02c54bd11004e2988582fa7a4a89650593f8592309c9a11be3781b4a4a80  chat-gateway\n";
    Config config = testing::TunnelledThrough(db_.config(), sshd_);
    config.auth_tokens_file = tokens;
    config.metrics_address = "127.0.0.1:0";
    testing::TestServer server(config);
    EXPECT_TRUE(server.WaitForHealth("", HealthCheckResponse::SERVING, absl::Seconds(15)));
    auto users = v1::UserService::NewStub(server.channel());
    v1::CreateUserRequest create;
    create.mutable_user()->set_username("grafana");
    create.mutable_user()->set_email("grafana@example.com");
    v1::User user;
    grpc::ClientContext context;
    testing::SetDeadline(&context);
    context.AddMetadata("authorization", "Bearer s3cret-gateway");
    grpc::Status status = users->CreateUser(&context, create, &user);
    EXPECT_TRUE(status.ok()) << status.error_message();
    httplib::Client http("127.0.0.1", server.server()->metrics_port());
    std::string text;
    for (int i = 0; i < 100; ++i) {  // the call is recorded as it finishes
      httplib::Result result = http.Get("/metrics");
      if (result) text = result->body;
      if (absl::StrContains(text, "chatgenius_rpc_duration_seconds_bucket{")) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    EXPECT_TRUE(absl::StrContains(text, "chatgenius_tunnel_state{")) << text;
    return ParseExposition(text);
  }

  testing::PrivateSshd sshd_;
  testing::TestDatabase db_;
};

TEST_F(OperatorKitTest, TheDashboardAndTheRulesNameOnlyWhatTheServerExports) {
  const Exported exported = ScrapeRealServer();
  ASSERT_TRUE(exported.count("chatgenius_rpc_requests_total")) << "scrape failed";
  EXPECT_EQ(exported.at("chatgenius_rpc_requests_total"),
            (std::set<std::string>{"method", "code"}));

  std::vector<Query> rules;
  std::map<std::string, std::string> recorded;
  ReadRules(&rules, &recorded);
  std::vector<Query> dashboard = ReadDashboard();
  // Everything was read: the rule file's 27 rules, the dashboard's queries
  // and its two query variables.
  EXPECT_EQ(rules.size(), 27u);
  EXPECT_EQ(recorded.size(), 15u);
  EXPECT_GE(dashboard.size(), 40u);
  EXPECT_EQ(std::count_if(dashboard.begin(), dashboard.end(),
                          [](const Query& q) { return absl::StartsWith(q.where, "variable"); }),
            2);

  std::vector<std::string> problems = Problems(rules, exported, recorded);
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n");
  problems = Problems(dashboard, exported, recorded);
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n");
}

// The check itself finds each kind of mistake (against a fixed exposition,
// so this needs no server).
TEST(OperatorKitCheckTest, FindsUnknownMetricsLabelsAndRecordings) {
  const Exported exported = ParseExposition(
      "# TYPE chatgenius_ready gauge\n"
      "chatgenius_ready 1\n"
      "# TYPE chatgenius_rpc_requests_total counter\n"
      "chatgenius_rpc_requests_total{method=\"a.B/C\",code=\"OK\"} 3\n"
      "chatgenius_limit_hits_total{limit=\"X\\\"y\"} 0\n");
  EXPECT_EQ(exported.at("chatgenius_limit_hits_total"), std::set<std::string>{"limit"});
  const std::map<std::string, std::string> recorded = {
      {"chatgenius:rate5m", "sum by (job, code) (rate(chatgenius_rpc_requests_total[5m]))"}};
  auto problems = [&](Query q) { return Problems({q}, exported, recorded).size(); };
  EXPECT_EQ(problems({"ok",
                      "sum by (method) (rate(chatgenius_rpc_requests_total{code!=\"OK\"}[5m]))",
                      {"method"}}),
            0u);
  EXPECT_EQ(problems({"ok", "chatgenius:rate5m{code=\"INTERNAL\"} > 0", {"job", "code"}}), 0u);
  EXPECT_EQ(problems({"renamed metric", "rate(chatgenius_rpc_request_total[5m])", {}}), 1u);
  EXPECT_EQ(problems({"wrong matcher", "chatgenius_rpc_requests_total{status=\"OK\"}", {}}), 1u);
  EXPECT_EQ(problems({"wrong grouping", "sum by (service) (chatgenius_rpc_requests_total)", {}}),
            1u);
  EXPECT_EQ(problems({"wrong legend", "chatgenius_ready", {"method"}}), 1u);
  EXPECT_EQ(problems({"unrecorded", "chatgenius:rate1h > 0", {}}), 1u);
  EXPECT_EQ(problems({"no metric", "vector(1)", {}}), 1u);
  EXPECT_EQ(problems({"string is not a name", "chatgenius_ready{job=\"chatgenius_nothing\"}", {}}),
            0u);
}

}  // namespace
}  // namespace chatgenius
