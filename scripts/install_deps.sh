#!/usr/bin/env bash
# Installs the Debian 12 packages Kagura needs to build, test and run. Idempotent: packages
# already installed are not fetched again, and apt-get runs only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  lld  # links the test executables several times faster than GNU ld (CMakeLists.txt)
  libsqlite3-dev libsqlitecpp-dev sqlite3
  nlohmann-json3-dev rapidjson-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libmongoc-dev libbson-dev nodejs npm
  libcurl4-openssl-dev libcpp-httplib-dev libkainjow-mustache-dev
  libpqxx-dev postgresql
  tmux
  chromium wrk
  prometheus  # promtool, which checks the /metrics output in the tests
  # scripts/test_sanitizers.sh and scripts/fuzz.sh: clang, its sanitizer and libFuzzer runtimes,
  # and llvm-symbolizer for readable reports
  clang libclang-rt-14-dev llvm
)

missing=()
for package in "${packages[@]}"; do
  # Node.js installed some other way (NodeSource, nvm) conflicts with Debian's packages; the
  # MongoDB test server only needs a working npm.
  case "$package" in nodejs | npm) if command -v npm >/dev/null 2>&1; then continue; fi ;; esac
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo="sudo"
    else
      echo "install_deps: these packages are missing and this is not root: ${missing[*]}" >&2
      echo "install_deps: run this script as root, or install them with apt-get" >&2
      exit 1
    fi
  fi

  echo "install_deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The prometheus package is here for promtool only; on a systemd machine it also starts a
  # Prometheus server on port 9090, the default port of `kagura dashboard --prometheus`. Stop
  # the service that this run installed (one the machine already had is left alone).
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

# The web dashboard's npm packages (Chart.js, embedded into the kagura binary at build time, and
# playwright-core for the browser test), pinned by web/package-lock.json. Installed again only
# when the lock file changed since the last install.
web="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/web"
if ! cmp -s "$web/package-lock.json" "$web/node_modules/.kagura-installed-lock"; then
  echo "install_deps: installing the npm packages of web/"
  (cd "$web" && npm ci --no-audit --no-fund --silent)
  cp "$web/package-lock.json" "$web/node_modules/.kagura-installed-lock"
fi
