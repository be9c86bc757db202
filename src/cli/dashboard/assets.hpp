#pragma once

// The web dashboard's files, compiled into the kagura binary (see assets_embed.cmake), so that
// an installed binary serves its page without any file beside it.

#include <string_view>

namespace kagura::cli::dashboard {

struct Asset {
  std::string_view path;  // as requested, e.g. "/app.js"
  std::string_view content_type;
  std::string_view body;
};

// nullptr when no embedded file has this path.
const Asset* find_asset(std::string_view path);

}  // namespace kagura::cli::dashboard
