#include "kagura/exporters/otlp_trace_exporter.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "exporters/otlp_json.hpp"
#include "kagura/telemetry/notice.hpp"
#include "net/curl_handles.hpp"
#include "net/json_post.hpp"

namespace kagura::exporters {
namespace {

// A batch serialised by prepare(), on the encoder thread. The body holds every execution; if
// the pipeline skips some from the front afterwards (drop_oldest), it is serialised again.
class OtlpBatch final : public pipeline::PreparedBatch {
 public:
  OtlpBatch(std::vector<std::shared_ptr<const telemetry::Execution>> executions, std::string body)
      : PreparedBatch(std::move(executions)), body_(std::move(body)) {}
  const std::string& body() const noexcept { return body_; }

 private:
  std::string body_;
};

std::string first_line(std::string_view text) {
  const auto end = text.find_first_of("\r\n");
  std::string line(text.substr(0, std::min<std::size_t>(end, 200)));
  return line.empty() ? "(empty body)" : line;
}

// user:password@ in a URL is shown as user:***@ in messages.
std::string mask_userinfo(const std::string& url) {
  const auto authority = url.find("://");
  if (authority == std::string::npos) return url;
  const auto end = url.find_first_of("/?#", authority + 3);
  const auto at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < authority) return url;
  const auto colon = url.find(':', authority + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

bool is_transient(long status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

}  // namespace

OtlpTraceExporter::OtlpTraceExporter(OtlpExporterOptions options) : options_(std::move(options)) {
  const auto& url = options_.endpoint;
  const bool http = url.starts_with("http://") || url.starts_with("https://");
  if (!http || url.size() <= url.find("://") + 3) {
    throw std::invalid_argument("OTLP endpoint '" + url +
                                "' is not an http:// or https:// URL, e.g. "
                                "http://localhost:4318/v1/traces");
  }
  if (options_.service_name.empty()) options_.service_name = "kagura";
}

std::string OtlpTraceExporter::location() const {
  return mask_userinfo(options_.endpoint);
}

std::string OtlpTraceExporter::request_body(
    std::span<const telemetry::Execution* const> batch) const {
  return otlp_trace_request(batch, OtlpResource{options_.service_name});
}

void OtlpTraceExporter::send(const std::string& body) const {
  const net::CurlEasy handle = net::make_curl_easy();
  const auto reply = net::post_json(handle.get(), {.url = options_.endpoint,
                                                   .headers = options_.headers,
                                                   .body = body,
                                                   .timeout = options_.timeout});
  if (reply.status == 0) {
    throw std::runtime_error("OTLP endpoint " + location() + " did not answer (" + reply.error +
                             "); check that the collector runs there");
  }
  if (reply.status >= 200 && reply.status < 300) {
    // A receiver may take the request and still refuse some spans (OTLP partial success).
    const auto answer = nlohmann::json::parse(reply.body, nullptr, false);
    if (answer.is_object() && answer.contains("partialSuccess") &&
        answer["partialSuccess"].is_object()) {
      const auto& partial = answer["partialSuccess"];
      long long rejected = 0;
      if (const auto it = partial.find("rejectedSpans"); it != partial.end()) {
        if (it->is_string()) {
          try {
            rejected = std::stoll(it->get<std::string>());
          } catch (const std::exception&) {
          }
        } else if (it->is_number_integer()) {
          rejected = it->get<long long>();
        }
      }
      if (rejected > 0) {
        const std::string message = partial.value("errorMessage", std::string());
        telemetry::notify("OTLP endpoint " + location() + " rejected " + std::to_string(rejected) +
                          " spans of a batch" + (message.empty() ? std::string() : ": " + message));
      }
    }
    return;
  }
  const std::string what = "OTLP endpoint " + location() + " answered HTTP " +
                           std::to_string(reply.status) + ": " + first_line(reply.body);
  if (is_transient(reply.status)) throw pipeline::RetryLaterError(what, reply.retry_after);
  std::string hint;
  if (reply.status == 401 || reply.status == 403) {
    hint = "; check the credentials in OTEL_EXPORTER_OTLP_HEADERS";
  } else if (reply.status == 404) {
    hint =
        "; check the path (OTEL_EXPORTER_OTLP_ENDPOINT gets /v1/traces appended, "
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is)";
  } else if (reply.status == 413) {
    hint = "; lower KAGURA_TELEMETRY_BATCH_SIZE";
  }
  throw pipeline::RejectedBatchError(what + hint);
}

std::size_t OtlpTraceExporter::save_executions(std::span<const telemetry::Execution* const> batch) {
  if (batch.empty()) return 0;
  send(request_body(batch));
  return batch.size();
}

std::unique_ptr<pipeline::PreparedBatch> OtlpTraceExporter::prepare(
    std::vector<std::shared_ptr<const telemetry::Execution>> batch) {
  std::vector<const telemetry::Execution*> pointers;
  pointers.reserve(batch.size());
  for (const auto& execution : batch) pointers.push_back(execution.get());
  std::string body = request_body(pointers);
  return std::make_unique<OtlpBatch>(std::move(batch), std::move(body));
}

std::size_t OtlpTraceExporter::write_prepared(pipeline::PreparedBatch& batch) {
  if (batch.size() == 0) return 0;
  const auto* prepared = dynamic_cast<const OtlpBatch*>(&batch);
  if (prepared == nullptr || batch.skipped() > 0) return save_executions(batch.pointers());
  send(prepared->body());
  return batch.size();
}

}  // namespace kagura::exporters
