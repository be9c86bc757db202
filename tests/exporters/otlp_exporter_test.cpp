// The OTLP trace exporter behind the telemetry pipeline, against a local receiver that checks
// every request against the OTLP/JSON encoding rules: the spans of real agent runs, and the
// pipeline's behaviour when the receiver fails (retries, spool, permanent refusals).

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_fixture.hpp"
#include "exporters/otlp_json.hpp"
#include "exporters/otlp_receiver.hpp"
#include "kagura/config/telemetry_config.hpp"
#include "kagura/exporters/otlp_trace_exporter.hpp"
#include "support/test_support.hpp"

namespace kagura::test {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

std::string attribute_text(const json& span, const std::string& key) {
  const auto value = otlp_attribute(span, key);
  if (value.is_null()) return "<absent>";
  if (value.contains("stringValue")) return value["stringValue"].get<std::string>();
  if (value.contains("intValue")) return value["intValue"].get<std::string>();
  return value.dump();
}

// A completed root execution of one second from 1.7e9 (2023-11-14T22:13:20Z).
telemetry::Execution one_second_execution(const std::string& id, const std::string& agent) {
  telemetry::Execution execution;
  execution.id = id;
  execution.trace_id = id;
  execution.agent_name = agent;
  execution.started_at = 1.7e9;
  execution.ended_at = 1.7e9 + 1;
  execution.status = telemetry::ExecutionStatus::completed;
  return execution;
}

const json* find_span(const std::vector<json>& spans, const std::string& name) {
  for (const auto& span : spans) {
    if (span.value("name", "") == name) return &span;
  }
  return nullptr;
}

std::uint64_t nanos(const json& value) {
  return std::stoull(value.get<std::string>());
}

std::size_t spool_files(const std::filesystem::path& directory) {
  std::size_t count = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    if (entry.path().filename().string().find(".jsonl") != std::string::npos) ++count;
  }
  return count;
}

telemetry::TelemetryOptions exporting_options(const std::string& endpoint,
                                              const std::filesystem::path& spool) {
  telemetry::TelemetryOptions options;
  options.flush_on_signals = false;
  options.pipeline.flush_interval = milliseconds(20);
  options.pipeline.max_batch = 8;
  options.pipeline.retry_backoff = milliseconds(10);
  options.pipeline.spool_retry_min = milliseconds(50);
  options.pipeline.spool_retry_max = milliseconds(200);
  options.pipeline.thread_niceness = 0;
  options.exporter = std::make_shared<exporters::OtlpTraceExporter>(exporters::OtlpExporterOptions{
      .endpoint = endpoint, .service_name = "kagura-test", .timeout = milliseconds(2000)});
  options.exporter_spool_directory = spool;
  return options;
}

// Real agents against the local LLM server, recording into an in-memory store and exporting.
class OtlpAgentTest : public AgentFixture {
 protected:
  OtlpAgentTest() {
    telemetry_ = std::make_shared<telemetry::Telemetry>(
        store_, exporting_options(receiver_.traces_url(), dir_ / "spool"));
  }
  OtlpReceiver receiver_;
  TempDir dir_{"kagura_otlp"};
};

TEST_F(OtlpAgentTest, AnAgentRunBecomesOneTraceOfGenAiSpans) {
  // manager: a tool round (ask_expert -> the expert agent, a child execution), then its answer;
  // it keeps a conversation memory. expert captures its content.
  server_.enqueue({.tool_calls = {{"c1", "ask_expert", R"({"question": "why?"})"}},
                   .usage = {.prompt_tokens = 120, .completion_tokens = 30, .cached_tokens = 20}});
  server_.enqueue({.content = "because"});
  server_.enqueue(
      {.content = "the expert says: because",
       .usage = {.prompt_tokens = 200, .completion_tokens = 40, .reasoning_tokens = 8}});
  auto expert_options = options("expert", "Answer {{ question }}");
  expert_options.capture_content = true;
  agent::Agent expert(std::move(expert_options));
  auto o = options("manager", "Delegate");
  o.memory = std::make_shared<agent::ConversationMemory>(10);
  o.tools = {{.name = "ask_expert",
              .description = "Ask the expert",
              .function = [&expert](const json& args) -> json { return expert(args); }}};
  agent::Agent manager(std::move(o));
  EXPECT_EQ(manager(), "the expert says: because");

  // A failing run: the model server refuses the request.
  server_.enqueue({.status = 400, .raw_body = R"({"error": {"message": "bad request"}})"});
  agent::Agent failing(options("failing", "Break"));
  EXPECT_ANY_THROW(failing());

  const auto executions = recorded();
  ASSERT_EQ(executions.size(), 3u);
  std::map<std::string, telemetry::Execution> by_agent;
  for (const auto& e : executions) by_agent[e.agent_name] = e;
  const auto& manager_run = by_agent.at("manager");
  const auto& expert_run = by_agent.at("expert");
  const auto& failing_run = by_agent.at("failing");

  std::size_t expected_spans = 0;
  for (const auto& e : executions) expected_spans += exporters::otlp_span_count(e);
  const auto spans = receiver_.wait_for_spans(expected_spans);
  ASSERT_EQ(spans.size(), expected_spans);
  EXPECT_EQ(receiver_.violations(), std::vector<std::string>{});

  // One span per execution, nested like the executions, in the root's trace (its id).
  const json* manager_span = find_span(spans, "invoke_agent manager");
  const json* expert_span = find_span(spans, "invoke_agent expert");
  const json* failing_span = find_span(spans, "invoke_agent failing");
  ASSERT_TRUE(manager_span && expert_span && failing_span);
  EXPECT_EQ((*manager_span)["traceId"], manager_run.id);
  EXPECT_EQ((*expert_span)["traceId"], manager_run.id);
  EXPECT_EQ((*failing_span)["traceId"], failing_run.id);
  EXPECT_EQ((*manager_span)["spanId"], exporters::otlp_span_id(manager_run.id));
  EXPECT_FALSE(manager_span->contains("parentSpanId"));
  EXPECT_EQ((*expert_span)["parentSpanId"], (*manager_span)["spanId"]);
  EXPECT_EQ((*manager_span)["kind"], 1) << "invoke_agent is INTERNAL";
  EXPECT_EQ(attribute_text(*manager_span, "gen_ai.operation.name"), "invoke_agent");
  EXPECT_EQ(attribute_text(*manager_span, "gen_ai.agent.name"), "manager");
  EXPECT_EQ(attribute_text(*manager_span, "gen_ai.provider.name"), "openai");
  EXPECT_EQ(attribute_text(*manager_span, "gen_ai.usage.input_tokens"), "320");
  EXPECT_EQ(attribute_text(*manager_span, "gen_ai.usage.output_tokens"), "70");
  EXPECT_EQ(attribute_text(*manager_span, "kagura.execution.id"), manager_run.id);
  EXPECT_EQ(nanos((*manager_span)["startTimeUnixNano"]),
            static_cast<std::uint64_t>(std::llround(manager_run.started_at * 1e9)));
  const auto cost = otlp_attribute(*manager_span, "gen_ai.usage.cost");
  ASSERT_TRUE(cost.contains("doubleValue"));
  EXPECT_NEAR(cost["doubleValue"].get<double>(), manager_run.metrics.total_cost(), 1e-12);
  EXPECT_GT(cost["doubleValue"].get<double>(), 0.0);

  // Each LLM call a CLIENT chat span, children of their execution's span.
  std::vector<const json*> chats;
  for (const auto& span : spans) {
    if (span["name"] == "chat gpt-4o-mini") chats.push_back(&span);
  }
  ASSERT_EQ(chats.size(), 3u);
  std::map<std::string, int> chats_per_parent;
  for (const json* chat : chats) {
    EXPECT_EQ((*chat)["kind"], 3) << "chat is CLIENT";
    EXPECT_EQ(attribute_text(*chat, "gen_ai.operation.name"), "chat");
    EXPECT_EQ(attribute_text(*chat, "gen_ai.request.model"), "gpt-4o-mini");
    EXPECT_EQ(attribute_text(*chat, "gen_ai.provider.name"), "openai");
    ++chats_per_parent[(*chat)["parentSpanId"].get<std::string>()];
    EXPECT_GE(nanos((*chat)["startTimeUnixNano"]), nanos((*manager_span)["startTimeUnixNano"]));
  }
  EXPECT_EQ(chats_per_parent[(*manager_span)["spanId"]], 2);
  EXPECT_EQ(chats_per_parent[(*expert_span)["spanId"]], 1);
  const json* first_chat = nullptr;
  for (const json* chat : chats) {
    if (attribute_text(*chat, "gen_ai.usage.input_tokens") == "120") first_chat = chat;
  }
  ASSERT_NE(first_chat, nullptr);
  EXPECT_EQ(attribute_text(*first_chat, "gen_ai.usage.output_tokens"), "30");
  EXPECT_EQ(attribute_text(*first_chat, "gen_ai.usage.cache_read.input_tokens"), "20");
  EXPECT_EQ(otlp_attribute(*first_chat, "gen_ai.response.finish_reasons"),
            json({{"arrayValue", {{"values", {{{"stringValue", "tool_calls"}}}}}}}));
  // The call's end is when it was recorded; it lasted its duration.
  const telemetry::LlmCall* first_call = nullptr;
  for (const auto& event : manager_run.events) {
    first_call = std::get_if<telemetry::LlmCall>(&event.payload);
    if (first_call != nullptr) break;
  }
  ASSERT_NE(first_call, nullptr);
  EXPECT_NEAR(static_cast<double>(nanos((*first_chat)["endTimeUnixNano"]) -
                                  nanos((*first_chat)["startTimeUnixNano"])) /
                  1e9,
              first_call->duration, 1e-6);
  // Content only where it was captured (the expert), never for the manager.
  for (const json* chat : chats) {
    const bool expert_chat = (*chat)["parentSpanId"] == (*expert_span)["spanId"];
    EXPECT_EQ(otlp_attribute(*chat, "gen_ai.input.messages").is_null(), !expert_chat);
  }

  // The tool call and the memory operation.
  const json* tool = find_span(spans, "execute_tool ask_expert");
  ASSERT_NE(tool, nullptr);
  EXPECT_EQ((*tool)["parentSpanId"], (*manager_span)["spanId"]);
  EXPECT_EQ((*tool)["kind"], 1);
  EXPECT_EQ(attribute_text(*tool, "gen_ai.tool.name"), "ask_expert");
  EXPECT_EQ(attribute_text(*tool, "gen_ai.operation.name"), "execute_tool");
  // The expert ran inside the tool call.
  EXPECT_LE(nanos((*tool)["startTimeUnixNano"]), nanos((*expert_span)["startTimeUnixNano"]));
  std::size_t memory_spans = 0;
  for (const auto& span : spans) {
    if (attribute_text(span, "kagura.memory.operation") != "<absent>") {
      ++memory_spans;
      EXPECT_EQ(span["parentSpanId"], (*manager_span)["spanId"]);
      EXPECT_EQ(span["traceId"], manager_run.id);
    }
  }
  EXPECT_EQ(static_cast<std::int64_t>(memory_spans), manager_run.metrics.memory_operations);
  EXPECT_GT(memory_spans, 0u);

  // The failure: status ERROR with the message, and error.type.
  ASSERT_TRUE(failing_span->contains("status"));
  EXPECT_EQ((*failing_span)["status"]["code"], 2);
  EXPECT_EQ((*failing_span)["status"]["message"], failing_run.error);
  EXPECT_NE(attribute_text(*failing_span, "error.type"), "<absent>");
  EXPECT_FALSE(manager_span->contains("status"));

  // The resource names the service and the SDK.
  const auto& resource = (*manager_span)["resource"];
  EXPECT_EQ(attribute_text(resource, "service.name"), "kagura-test");
  EXPECT_EQ(attribute_text(resource, "telemetry.sdk.name"), "kagura");
  EXPECT_EQ(attribute_text(resource, "telemetry.sdk.language"), "cpp");
  EXPECT_EQ(expert_run.parent_id, manager_run.id);

  // Sending the same executions again gives the same ids: the receiver can tell duplicates.
  exporters::OtlpTraceExporter again({.endpoint = receiver_.traces_url()});
  std::vector<const telemetry::Execution*> pointers;
  for (const auto& e : executions) pointers.push_back(&e);
  EXPECT_EQ(again.save_executions(pointers), executions.size());
  const auto twice = receiver_.wait_for_spans(2 * expected_spans);
  std::multiset<std::string> ids;
  for (const auto& span : twice)
    ids.insert(span["traceId"].get<std::string>() + "/" + span["spanId"].get<std::string>());
  for (const auto& id : ids) EXPECT_EQ(ids.count(id), 2u) << id;
}

class OtlpPipelineTest : public ::testing::Test {
 protected:
  std::shared_ptr<telemetry::Telemetry> make(const std::string& endpoint, bool spool = true) {
    auto options = exporting_options(endpoint, spool ? spool_ : std::filesystem::path());
    return std::make_shared<telemetry::Telemetry>(
        std::make_shared<storage::SqliteStore>(storage::SqliteStore::kMemory), options);
  }
  static void record(telemetry::Telemetry& telemetry, int count, const std::string& agent) {
    for (int i = 0; i < count; ++i) {
      telemetry.collector().track(agent, {{"i", i}}, [](auto& scope) {
        scope.record_llm_call({.model = "openai/gpt-4o-mini",
                               .prompt_tokens = 10,
                               .completion_tokens = 5,
                               .duration = 0.01});
        return 0;
      });
    }
  }
  // Accepted spans per span id.
  static std::map<std::string, int> arrivals(const OtlpReceiver& receiver) {
    std::map<std::string, int> count;
    for (const auto& span : receiver.spans()) ++count[span["spanId"].get<std::string>()];
    return count;
  }
  NoticeCapture notices_;
  TempDir dir_{"kagura_otlp"};
  std::filesystem::path spool_ = dir_ / "spool";
};

TEST_F(OtlpPipelineTest, A503ForAWhileIsSpooledAndEverythingArrivesExactlyOnce) {
  OtlpReceiver receiver;
  receiver.fail_next(10, 503);
  auto telemetry = make(receiver.traces_url());
  constexpr int kRuns = 40;
  for (int burst = 0; burst < 4; ++burst) {
    record(*telemetry, kRuns / 4, "steady");
    std::this_thread::sleep_for(milliseconds(30));
  }
  ASSERT_TRUE(telemetry->flush(std::chrono::seconds(10)));
  // Every span: one agent and one chat span per run.
  receiver.wait_for_spans(2 * kRuns, std::chrono::seconds(20));
  // The writer counts a delivered segment, and says the endpoint is back, just after the
  // request was answered.
  for (int i = 0; i < 200; ++i) {
    const auto now = telemetry->exporter_stats();
    if (now.spool_pending == 0 && now.unspooled == now.spooled &&
        notices_.count_containing("is answering again") > 0) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  const auto stats = telemetry->exporter_stats();
  EXPECT_GT(stats.spooled, 0u) << "batches went to the spool while the receiver answered 503";
  EXPECT_EQ(stats.unspooled, stats.spooled);
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_EQ(stats.dropped, 0u);
  const auto count = arrivals(receiver);
  EXPECT_EQ(count.size(), 2u * kRuns);
  for (const auto& [id, n] : count)
    EXPECT_EQ(n, 1) << "span " << id << " arrived " << n << " times";
  EXPECT_EQ(receiver.violations(), std::vector<std::string>{});
  EXPECT_GE(receiver.attempts().size(), 11u);
  EXPECT_EQ(telemetry->stats().written, static_cast<std::uint64_t>(kRuns))
      << "the store is written whatever the exporter's endpoint does";
  EXPECT_EQ(spool_files(spool_), 0u);
  EXPECT_EQ(notices_.count_containing("is not taking writes"), 1u);
  EXPECT_EQ(notices_.count_containing("is answering again"), 1u);
}

TEST_F(OtlpPipelineTest, A400IsCountedFailedNeitherRetriedNorSpooled) {
  OtlpReceiver receiver;
  receiver.fail_next(1000, 400, {}, "invalid trace payload\nmore detail");
  auto telemetry = make(receiver.traces_url());
  record(*telemetry, 3, "refused");
  ASSERT_TRUE(telemetry->flush(std::chrono::seconds(10)));
  std::this_thread::sleep_for(milliseconds(300));  // a retry, if any, would come by now
  const auto stats = telemetry->exporter_stats();
  EXPECT_EQ(stats.failed, 3u);
  EXPECT_EQ(stats.spooled, 0u);
  EXPECT_EQ(receiver.attempts().size(), 1u) << "one batch, one attempt";
  EXPECT_EQ(spool_files(spool_), 0u);
  EXPECT_EQ(notices_.count_containing("HTTP 400: invalid trace payload"), 1u);
  EXPECT_EQ(notices_.count_containing("more detail"), 0u) << "the body's first line only";
  EXPECT_EQ(telemetry->stats().written, 3u);
}

TEST_F(OtlpPipelineTest, A429WithRetryAfterIsHonoured) {
  OtlpReceiver receiver;
  receiver.fail_next(1, 429, "1");
  auto telemetry = make(receiver.traces_url());
  record(*telemetry, 1, "patient");
  receiver.wait_for_spans(2, std::chrono::seconds(10));
  const auto attempts = receiver.attempts();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status, 429);
  EXPECT_GE(attempts[1].at - attempts[0].at, milliseconds(950))
      << "the second attempt came before Retry-After said";
  EXPECT_EQ(arrivals(receiver).size(), 2u);
}

TEST_F(OtlpPipelineTest, Only429And502To504AreRetried) {
  for (const int status : {500, 401, 404, 413}) {
    OtlpReceiver receiver;
    receiver.fail_next(1, status);
    auto telemetry = make(receiver.traces_url());
    record(*telemetry, 1, "once");
    ASSERT_TRUE(telemetry->flush(std::chrono::seconds(10)));
    std::this_thread::sleep_for(milliseconds(200));
    EXPECT_EQ(receiver.attempts().size(), 1u) << status;
    EXPECT_EQ(telemetry->exporter_stats().failed, 1u) << status;
  }
  for (const int status : {502, 504}) {
    OtlpReceiver receiver;
    receiver.fail_next(1, status);
    auto telemetry = make(receiver.traces_url());
    record(*telemetry, 1, "twice");
    EXPECT_EQ(receiver.wait_for_spans(2, std::chrono::seconds(10)).size(), 2u) << status;
    EXPECT_EQ(receiver.attempts().size(), 2u) << status;
    EXPECT_EQ(telemetry->exporter_stats().failed, 0u) << status;
  }
}

TEST_F(OtlpPipelineTest, AnEndpointDownAtStartGetsTheSpansOnceItIsUp) {
  int port = 0;
  {
    OtlpReceiver probe;  // a free port, then nobody listening on it
    port = probe.port();
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1/traces";
  auto telemetry = make(url);
  record(*telemetry, 5, "early");
  ASSERT_TRUE(telemetry->flush(std::chrono::seconds(10)));
  EXPECT_EQ(telemetry->exporter_stats().spooled, 5u);
  EXPECT_EQ(telemetry->exporter_stats().failed, 0u);
  EXPECT_GT(spool_files(spool_), 0u);

  OtlpReceiver receiver(port);
  EXPECT_EQ(receiver.wait_for_spans(10, std::chrono::seconds(10)).size(), 10u);
  for (int i = 0; i < 100 && telemetry->exporter_stats().unspooled < 5; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(telemetry->exporter_stats().unspooled, 5u);
  EXPECT_EQ(receiver.violations(), std::vector<std::string>{});
}

TEST_F(OtlpPipelineTest, ASpooledBatchRefusedOnDeliveryIsSetAsideNotRetriedForever) {
  int port = 0;
  {
    OtlpReceiver probe;
    port = probe.port();
  }
  auto telemetry = make("http://127.0.0.1:" + std::to_string(port) + "/v1/traces");
  record(*telemetry, 2, "doomed");
  ASSERT_TRUE(telemetry->flush(std::chrono::seconds(10)));
  ASSERT_EQ(telemetry->exporter_stats().spooled, 2u);

  OtlpReceiver receiver(port);
  receiver.fail_next(1000, 400, {}, "schema mismatch");
  receiver.wait_for_attempts(1);
  std::this_thread::sleep_for(milliseconds(500));  // several delivery periods
  EXPECT_EQ(receiver.attempts().size(), 1u) << "a refused segment is not delivered again";
  EXPECT_EQ(telemetry->exporter_stats().spool_pending, 0u);
  EXPECT_EQ(telemetry->exporter_stats().failed, 2u);
  std::size_t rejected = 0;
  for (const auto& entry : std::filesystem::directory_iterator(spool_)) {
    if (entry.path().extension() == ".rejected") ++rejected;
  }
  EXPECT_EQ(rejected, 1u) << "kept for inspection";
  EXPECT_EQ(notices_.count_containing("schema mismatch"), 1u);

  // Later executions go straight through once the endpoint takes them.
  receiver.fail_next(0, 400);
  record(*telemetry, 1, "fine");
  EXPECT_EQ(receiver.wait_for_spans(2, std::chrono::seconds(10)).size(), 2u);
}

TEST_F(OtlpPipelineTest, PartialSuccessIsReported) {
  OtlpReceiver receiver;
  receiver.set_success_body(
      R"({"partialSuccess": {"rejectedSpans": "2", "errorMessage": "span too old"}})");
  auto telemetry = make(receiver.traces_url());
  record(*telemetry, 1, "partial");
  ASSERT_TRUE(telemetry->flush(std::chrono::seconds(10)));
  EXPECT_EQ(notices_.count_containing("rejected 2 spans of a batch: span too old"), 1u);
}

TEST_F(OtlpPipelineTest, HeadersFromTheConfigurationAreSent) {
  OtlpReceiver receiver;
  const auto config = config::load_telemetry_config(
      [&](std::string_view name) -> std::optional<std::string> {
        if (name == "OTEL_EXPORTER_OTLP_ENDPOINT") return receiver.base_url();
        if (name == "OTEL_EXPORTER_OTLP_HEADERS") return "authorization=Bearer%20s3cret,x-team=ml";
        if (name == "KAGURA_TELEMETRY_CONNECTION") return ":memory:";
        return std::nullopt;
      },
      dir_.path());
  ASSERT_EQ(config.otlp.endpoint, receiver.traces_url());
  exporters::OtlpTraceExporter exporter(config.otlp);
  const auto execution = one_second_execution("0190f1a2b3c4d5e6f708192a3b4c5d6e", "direct");
  const telemetry::Execution* one = &execution;
  EXPECT_EQ(exporter.save_executions({&one, 1}), 1u);
  const auto attempts = receiver.attempts();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].headers.at("authorization"), "Bearer s3cret");
  EXPECT_EQ(attempts[0].headers.at("x-team"), "ml");
  EXPECT_EQ(attempts[0].headers.at("content-type"), "application/json");
  ASSERT_EQ(receiver.spans().size(), 1u);
  EXPECT_EQ(receiver.spans()[0]["traceId"], execution.id);
  EXPECT_EQ(receiver.spans()[0]["startTimeUnixNano"], "1700000000000000000");
  EXPECT_EQ(receiver.spans()[0]["endTimeUnixNano"], "1700000001000000000");
}

TEST(OtlpExporter, ALocalCollectorIsNeverReachedThroughAProxy) {
  OtlpReceiver receiver;
  kagura::test::ScopedEnv env;
  // A proxy nobody listens on: going through it would fail.
  env.set("http_proxy", "http://127.0.0.1:9");
  env.set("HTTP_PROXY", "http://127.0.0.1:9");
  env.set("no_proxy", "example.com");
  env.unset("NO_PROXY");
  exporters::OtlpTraceExporter exporter({.endpoint = receiver.traces_url()});
  const auto execution = one_second_execution("0190f1a2b3c4d5e6f708192a3b4c5d6f", "behind_a_proxy");
  const telemetry::Execution* one = &execution;
  EXPECT_EQ(exporter.save_executions({&one, 1}), 1u);
  ASSERT_EQ(receiver.spans().size(), 1u);
  EXPECT_EQ(receiver.spans()[0]["traceId"], execution.id);
}

TEST(OtlpExporter, MasksAPasswordInTheEndpointInMessages) {
  const exporters::OtlpTraceExporter exporter({.endpoint = "https://user:s3cret@h:4318/v1/traces"});
  EXPECT_EQ(exporter.location(), "https://user:***@h:4318/v1/traces");
  EXPECT_THROW(exporters::OtlpTraceExporter({.endpoint = "h:4318"}), std::invalid_argument);
}

TEST(OtlpIds, AreDeterministicAndWellFormedForAnyExecutionId) {
  telemetry::Execution e;
  e.id = "not-a-hex-id";
  e.trace_id = "also not hex";
  const auto trace = exporters::otlp_trace_id(e);
  EXPECT_EQ(trace.size(), 32u);
  EXPECT_EQ(trace, exporters::otlp_trace_id(e));
  EXPECT_NE(trace, std::string(32, '0'));
  EXPECT_EQ(exporters::otlp_span_id("x").size(), 16u);
  EXPECT_EQ(exporters::otlp_span_id("x"), exporters::otlp_span_id("x"));
  EXPECT_NE(exporters::otlp_span_id("x"), exporters::otlp_span_id("y"));
  EXPECT_NE(exporters::otlp_event_span_id("x", 0), exporters::otlp_event_span_id("x", 1));
  EXPECT_NE(exporters::otlp_event_span_id("x", 0), exporters::otlp_span_id("x"));
  e.trace_id = "0190F1A2B3C4D5E6F708192A3B4C5D6E";  // upper case is not OTLP's hex
  EXPECT_NE(exporters::otlp_trace_id(e), e.trace_id);
  EXPECT_TRUE(OtlpReceiver::check_request(json::parse(exporters::otlp_trace_request(
                                              std::vector<const telemetry::Execution*>{&e}, {})))
                  .size() > 0)
      << "an execution with no start time has no valid span times";
}

}  // namespace
}  // namespace kagura::test
