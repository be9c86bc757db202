#!/usr/bin/env bash
# Installs the Debian 12 packages Kagura needs to build, test and run. Idempotent: packages
# already installed are not fetched again, and apt-get runs only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libsqlite3-dev libsqlitecpp-dev sqlite3
  nlohmann-json3-dev rapidjson-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libmongoc-dev libbson-dev nodejs npm
  libcurl4-openssl-dev libcpp-httplib-dev libkainjow-mustache-dev
  libpqxx-dev postgresql
  tmux
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

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

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
