// A toy OpenAI-compatible server, so that the examples run without an API key or a network:
//
//   toy_llm_server [port=8731]        then  OPENAI_BASE_URL=http://127.0.0.1:8731/v1 ...
//
// What it answers: see toy_model.hpp.

#include <httplib.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "toy_model.hpp"

namespace {

using kagura::examples::reply;
using nlohmann::json;

httplib::Server* g_server = nullptr;

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 8731;
  httplib::Server server;
  g_server = &server;
  server.Post("/v1/chat/completions", [](const httplib::Request& req, httplib::Response& res) {
    try {
      res.set_content(reply(json::parse(req.body)).dump(), kagura::examples::kJsonContentType);
    } catch (const std::exception& error) {
      res.status = 400;
      res.set_content(json{{"error", {{"message", error.what()}}}}.dump(),
                      kagura::examples::kJsonContentType);
    }
  });
  std::signal(SIGTERM, [](int) { g_server->stop(); });
  std::signal(SIGINT, [](int) { g_server->stop(); });
  if (!server.bind_to_port("127.0.0.1", port)) {
    std::fprintf(stderr,
                 "toy_llm_server: cannot listen on 127.0.0.1:%d (in use?); pass another port\n",
                 port);
    return 1;
  }
  std::printf("toy_llm_server: listening on http://127.0.0.1:%d/v1\n", port);
  std::fflush(stdout);
  server.listen_after_bind();
  return 0;
}
