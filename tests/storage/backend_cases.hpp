#pragma once

// The backends the storage conformance suite runs against. Each case opens a fresh, empty
// store; a server-backed case finds its server through the environment that the test
// servers' CTest fixtures provide, and fails (never skips) when it is missing.

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "kagura/storage/storage_adapter.hpp"

namespace kagura::test {

struct BackendCase {
  std::string name;     // test-name suffix: letters, digits and '_'
  std::string backend;  // what backend_name() returns
  std::function<std::shared_ptr<storage::StorageAdapter>()> open;
};

std::vector<BackendCase> conformance_backends();

// For GoogleTest's messages: the case's name, not its bytes.
inline void PrintTo(const BackendCase& backend, std::ostream* out) {
  *out << backend.name;
}

}  // namespace kagura::test
