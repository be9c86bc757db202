#pragma once

// What the servers of `kagura dashboard` share: where they listen and the token that guards
// them. They bind to loopback unless told otherwise, and binding anywhere else requires a
// token, which every request must then carry (Authorization: Bearer TOKEN, or ?token=TOKEN for a
// browser's first page load).

#include <httplib.h>

#include <string>
#include <string_view>

namespace kagura::cli::dashboard {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string token;  // empty: no token (allowed on loopback only)
};

bool is_loopback_host(std::string_view host);
// Throws CliError when `options` would expose a server beyond loopback without a token.
void check_exposure(const ServerOptions& options, std::string_view server_name);
// Whether a request may be answered: always without a token, else only with the right one
// (compared in constant time).
bool request_authorised(const httplib::Request& request, const std::string& token);

// The host as it goes into a URL: an IPv6 address in brackets.
std::string url_host(const std::string& host);
// Socket settings both servers need: TCP_NODELAY (httplib writes headers and body separately,
// so without it a kept-alive response waits for the client's delayed ACK, 40 ms on Linux), and
// SO_REUSEADDR without httplib's default SO_REUSEPORT, with which a second server binds the
// same port and silently takes part of its connections.
void configure_sockets(httplib::Server& server);
// Serves on the bound `server` until Ctrl-C, then stops it. Throws CliError naming `what` when
// the server stops listening by itself.
void serve_until_interrupted(httplib::Server& server, std::string_view what,
                             const std::string& host, int port);

}  // namespace kagura::cli::dashboard
