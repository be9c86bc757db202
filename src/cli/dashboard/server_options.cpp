#include "cli/dashboard/server_options.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "cli/command_support.hpp"
#include "cli/monitor/interrupt.hpp"

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

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos && !host.starts_with('[') ? "[" + host + "]" : host;
}

void configure_sockets(httplib::Server& server) {
  server.set_tcp_nodelay(true);
  server.set_socket_options([](socket_t socket) {
    int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
}

void serve_until_interrupted(httplib::Server& server, std::string_view what,
                             const std::string& host, int port) {
  std::atomic<bool> listening_ended{false};
  bool listened = false;
  std::thread listener([&] {
    listened = server.listen_after_bind();
    listening_ended = true;
  });
  while (!listening_ended && monitor::sleep_unless_interrupted(0.1)) {
  }
  server.stop();
  listener.join();
  if (!listened && !monitor::interrupted()) {
    throw CliError(fmt::format("{} stopped listening on {}:{} unexpectedly", what, host, port));
  }
}

}  // namespace kagura::cli::dashboard
