// `kagura dashboard --web`: the single-page dashboard (files embedded in the binary, see
// assets.hpp) and its JSON API (web_api.hpp) over cpp-httplib.

#include <fmt/format.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>

#include "cli/command_support.hpp"
#include "cli/dashboard/assets.hpp"
#include "cli/dashboard/servers.hpp"
#include "cli/dashboard/web_api.hpp"
#include "cli/monitor/filters.hpp"
#include "cli/monitor/interrupt.hpp"

namespace kagura::cli::dashboard {
namespace {

// Each connection holds a worker for as long as it is kept alive, so the pool is sized for a
// few browsers plus a load of 16 concurrent API clients, with room to spare.
constexpr std::size_t kWorkerThreads = 32;
constexpr const char* kJson = "application/json";

// The page builds its DOM from text nodes only, and this policy is the second line of defence:
// even markup that slipped through could neither run inline script nor load anything foreign.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void send_error(httplib::Response& response, int status, const std::string& message) {
  response.status = status;
  response.set_content(dump_json({{"error", monitor::one_line(message)}}), kJson);
}

template <typename Fn>
void answer(httplib::Response& response, Fn&& fn) {
  try {
    response.set_content(dump_json(fn()), kJson);
  } catch (const ApiError& e) {
    send_error(response, e.status(), e.what());
  } catch (const storage::StoreUnreachableError& e) {
    send_error(response, 503, e.what());
  } catch (const std::exception& e) {
    send_error(response, 500, e.what());
  }
}

// Percent-encodes everything but unreserved characters, which also makes the result safe
// inside an HTML attribute.
std::string url_encode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// The page's own files carry the token too when one is required, since a browser sends no
// Authorization header for <script src>.
std::string page_html(std::string_view html, const std::string& token) {
  constexpr std::string_view kMarker = "{{token_query}}";
  const std::string query = token.empty() ? "" : "?token=" + url_encode(token);
  std::string out;
  std::size_t from = 0;
  for (std::size_t at; (at = html.find(kMarker, from)) != std::string_view::npos;
       from = at + kMarker.size()) {
    out.append(html.substr(from, at - from));
    out += query;
  }
  out.append(html.substr(from));
  return out;
}

void add_routes(httplib::Server& server, const WebApi& api, const std::string& token) {
  server.set_pre_routing_handler(
      [&token](const httplib::Request& request, httplib::Response& response) {
        if (request_authorised(request, token)) return httplib::Server::HandlerResponse::Unhandled;
        send_error(response, 401,
                   "this dashboard needs its token: open it as /?token=TOKEN, or send the header "
                   "Authorization: Bearer TOKEN");
        return httplib::Server::HandlerResponse::Handled;
      });
  using Params = const ApiParams&;
  const auto route = [&](const char* path, nlohmann::json (WebApi::*fn)(Params) const) {
    server.Get(path, [&api, fn](const httplib::Request& request, httplib::Response& response) {
      answer(response, [&] { return (api.*fn)(request.params); });
    });
  };
  // The benchmark's baseline: the server's own cost, without the store.
  server.Get("/api/health", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(R"({"ok":true})", kJson);
  });
  route("/api/summary", &WebApi::summary);
  route("/api/timeseries", &WebApi::timeseries);
  route("/api/cost", &WebApi::cost);
  route("/api/agents", &WebApi::agents);
  route("/api/executions", &WebApi::executions);
  server.Get(R"(/api/executions/([^/]*))",
             [&api](const httplib::Request& request, httplib::Response& response) {
               answer(response, [&] { return api.execution(request.matches[1].str()); });
             });
  server.Get(R"(/[^/]*)", [&token](const httplib::Request& request, httplib::Response& response) {
    const Asset* asset = find_asset(request.path);
    if (asset == nullptr) {
      send_error(response, 404, "no page at " + request.path + ": the dashboard is at /");
      return;
    }
    if (asset->path == "/index.html") {
      response.set_content(page_html(asset->body, token), std::string(asset->content_type));
    } else {
      response.set_content(asset->body.data(), asset->body.size(),
                           std::string(asset->content_type));
    }
  });
  // Unknown paths and methods get a JSON error too, not an empty body.
  server.set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;
    send_error(response, response.status,
               response.status == 404
                   ? "no such endpoint: " + request.path +
                         " (the API has /api/summary, /api/timeseries, /api/cost, /api/agents, "
                         "/api/executions and /api/executions/ID)"
                   : "the request was not understood (" + request.method + " " + request.path +
                         "): the dashboard answers GET only");
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& response, std::exception_ptr error) {
        std::string message = "internal error";
        try {
          if (error) std::rethrow_exception(error);
        } catch (const std::exception& e) {
          message = e.what();
        } catch (...) {
        }
        send_error(response, 500, message);
      });
}

}  // namespace

void serve_web(const ServerOptions& options, std::shared_ptr<storage::StorageAdapter> store) {
  const WebApi api(std::move(store));
  httplib::Server server;
  server.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  // A polling page or a load generator reuses its connection rather than reconnecting every
  // five requests (httplib's default).
  server.set_keep_alive_max_count(10000);
  configure_sockets(server);
  server.set_default_headers({{"Content-Security-Policy", kContentSecurityPolicy},
                              {"X-Content-Type-Options", "nosniff"},
                              {"Referrer-Policy", "no-referrer"},
                              {"Cache-Control", "no-store"}});
  add_routes(server, api, options.token);

  const int port = options.port == 0
                       ? server.bind_to_any_port(options.host)
                       : (server.bind_to_port(options.host, options.port) ? options.port : -1);
  if (port <= 0) {
    throw CliError(options.port == 0
                       ? "the web dashboard cannot listen on " + options.host +
                             ": check --host (an address of this machine, such as 127.0.0.1)"
                       : fmt::format("the web dashboard cannot listen on {}:{} (in use, or not "
                                     "an address of this machine): pick another with --port, "
                                     "or --port 0 for any free one",
                                     options.host, options.port));
  }
  fmt::print("Dashboard at http://{}:{}/\n", url_host(options.host), port);
  if (!options.token.empty()) {
    fmt::print("Every request needs the token: open http://{}:{}/?token=TOKEN in a browser\n",
               url_host(options.host), port);
  }
  std::fflush(stdout);

  serve_until_interrupted(server, "the web dashboard", options.host, port);
}

}  // namespace kagura::cli::dashboard
