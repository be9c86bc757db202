#pragma once

// One HTTP POST of an OTLP/JSON body over libcurl: what the exporter needs to tell a batch that
// arrived from one to send again later and one refused for good.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace kagura::exporters::detail {

struct OtlpReply {
  long status = 0;  // 0: no answer (see error)
  std::string body;
  std::chrono::milliseconds retry_after{0};  // from Retry-After, when sent
  std::string error;                         // why there was no answer
};

// Never throws for network failures: they come back in `error` with status 0.
OtlpReply post_otlp_json(const std::string& url,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::string& body, std::chrono::milliseconds timeout);

}  // namespace kagura::exporters::detail
