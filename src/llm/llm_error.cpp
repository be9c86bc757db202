#include "kagura/llm/llm_client.hpp"

namespace kagura::llm {

std::string_view to_string(LlmErrorKind kind) noexcept {
  switch (kind) {
    case LlmErrorKind::network:
      return "network";
    case LlmErrorKind::timeout:
      return "timeout";
    case LlmErrorKind::http_status:
      return "http_status";
    case LlmErrorKind::malformed:
      return "malformed";
    case LlmErrorKind::configuration:
      return "configuration";
  }
  return "unknown";
}

}  // namespace kagura::llm
