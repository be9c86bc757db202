#include "cli/dashboard/server_options.hpp"

#include "cli/command_support.hpp"

namespace kagura::cli::dashboard {
namespace {

// Equal-length comparison that takes the same time wherever the first difference is, so that a
// token cannot be guessed byte by byte from response times.
bool same_secret(std::string_view given, std::string_view expected) {
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    difference |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(expected[i]));
  }
  return difference == 0;
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]" ||
         host.starts_with("127.");
}

void check_exposure(const ServerOptions& options, std::string_view server_name) {
  if (is_loopback_host(options.host) || !options.token.empty()) return;
  throw CliError(std::string(server_name) + " would listen on " + options.host +
                 ", beyond this machine, without a token: give --token TOKEN (or set "
                 "KAGURA_DASHBOARD_TOKEN), or keep the default --host 127.0.0.1");
}

bool request_authorised(const httplib::Request& request, const std::string& token) {
  if (token.empty()) return true;
  const std::string authorization = request.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.starts_with(kBearer) &&
      same_secret(std::string_view(authorization).substr(kBearer.size()), token)) {
    return true;
  }
  return request.has_param("token") && same_secret(request.get_param_value("token"), token);
}

}  // namespace kagura::cli::dashboard
