#!/usr/bin/env bash
# torchkiln's two commands, each setting itself up on a fresh machine:
#   ./dev.sh demo    script, trace, save, load in a fresh process and in C++
#   ./dev.sh test    the project's tests
#   ./dev.sh acceptance   the acceptance suite in ../shared/acceptance
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)

setup() {
  # System packages: a C++ compiler, CMake and nlohmann-json for the C++ runtime.
  if ! command -v cmake >/dev/null || ! command -v g++ >/dev/null || [ ! -f /usr/include/nlohmann/json.hpp ]; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && apt-get install -y -qq cmake g++ nlohmann-json3-dev >/dev/null
    else
      sudo apt-get update -qq && sudo apt-get install -y -qq cmake g++ nlohmann-json3-dev >/dev/null
    fi
  fi
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  stamp=.venv/.torchkiln-installed
  # The C++ sources too: the extension torchkiln._C is built from them (incrementally, in build/ext).
  want=$(cat pyproject.toml $(ls setup.py torchkiln/csrc/CMakeLists.txt torchkiln/csrc/include/torchkiln/* torchkiln/csrc/src/* torchkiln/csrc/python/*.cpp 2>/dev/null) | sha1sum | cut -c1-16)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    # torch is pinned: 2.13.0 (CPU build); the project builds against it without isolation.
    .venv/bin/pip install -q --disable-pip-version-check torch==2.13.0 setuptools wheel
    .venv/bin/pip install -q --disable-pip-version-check --no-build-isolation -e ".[test]"
    echo "$want" > "$stamp"
  fi
}

case "${1:-}" in
  demo)
    setup
    exec .venv/bin/python examples/demo.py
    ;;
  test)
    setup
    shift
    exec .venv/bin/python -m pytest -q -n 2 -p no:cacheprovider tests "$@"
    ;;
  acceptance)
    setup
    shift
    exec ../shared/acceptance/run "$@"
    ;;
  setup)
    setup
    ;;
  *)
    echo "usage: ./dev.sh demo | test [pytest args] | setup" >&2
    exit 2
    ;;
esac
