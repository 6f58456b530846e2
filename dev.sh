#!/usr/bin/env bash
# One entry point for a fresh machine (Debian 12, Python 3.11):
#   bash dev.sh app [CLIP]      set everything up, then open the app (default: the bundled demo clip)
#   bash dev.sh test [ARGS]     set everything up, then run the whole test suite (pytest ARGS)
#   bash dev.sh setup [--force] set everything up only; --force rebuilds .venv from scratch
#   bash dev.sh lock [ARGS]     re-resolve uv.lock after editing pyproject.toml (uv lock ARGS,
#                               e.g. --upgrade-package numpy)
# Setting up = the Debian packages the app needs (apt, as root or with sudo), uv (pinned, in
# .tools/), a virtual environment in .venv with exactly the versions in uv.lock, and a smoke
# check that the installed packages load together. Each step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")"

UV_VERSION=0.13.9
DEB_PACKAGES=(
  python3-venv python3-pip
  libportaudio2 libasound2 libsndfile1
  libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
  libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxcb-xfixes0 libx11-xcb1
  xvfb xauth x11-utils
)
UV=.tools/uv/bin/uv
# uv reads none of pip's configuration; make it use only what this file and uv.lock say, and
# never download a Python of its own.
export UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=.venv

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; exit 1; }

install_debian_packages() {
  command -v dpkg-query >/dev/null 2>&1 || { log "not a Debian system: install PortAudio, libEGL, xcb libraries and Xvfb yourself"; return 0; }
  local missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root or sudo to install: ${missing[*]}"
    sudo="sudo"
  fi
  log "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
  for py in python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      command -v "$py"; return 0
    fi
  done
  die "Python 3.11 is required (Debian 12: apt-get install python3)"
}

ensure_uv() {
  if [ -x "$UV" ] && [ "$("$UV" --version 2>/dev/null | cut -d' ' -f2)" = "$UV_VERSION" ]; then
    return 0
  fi
  local py
  py=$(find_python)
  log "installing uv $UV_VERSION into .tools/uv"
  rm -rf .tools/uv
  "$py" -m venv .tools/uv
  .tools/uv/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
}

# The lock is what gets installed; refuse one that is missing or out of date with pyproject.toml.
check_lock() {
  [ -f uv.lock ] || die "uv.lock is missing: the install is locked. Restore it (git checkout uv.lock) or make a new one with: bash dev.sh lock"
  if ! "$UV" lock --check --offline --python "$(find_python)" >/dev/null 2>.tools/lock-check.log \
      && ! "$UV" lock --check --python "$(find_python)" >/dev/null 2>>.tools/lock-check.log; then
    die "uv.lock is out of date with pyproject.toml: run 'bash dev.sh lock' and commit uv.lock (details: .tools/lock-check.log)"
  fi
}

setup_venv() {
  local force=${1:-} py stamp want
  ensure_uv
  check_lock
  py=$(find_python)
  if [ "$force" = "--force" ]; then
    log "removing .venv to install it again"
    rm -rf .venv
  fi
  stamp=.venv/.locked-install
  want=$(cat uv.lock dev.sh | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing the locked Python packages into .venv (first time: about 3 GB of downloads, torch with CUDA support)"
    # Bytecode is compiled once here (about a minute): every later start of the app, the CLI, a
    # queue or Ray worker and a test subprocess then skips it (a 1-iteration CLI training run: 17 s
    # without it, 7.5 s with it, on the 2-core VM), also where PYTHONDONTWRITEBYTECODE keeps
    # Python from caching it itself.
    "$UV" sync --frozen --extra dev --python "$py" --quiet --compile-bytecode
    rm -f "$stamp"
    .venv/bin/python -m songwriter_app.selfcheck \
      || die "the installed packages do not work together (above); repair with: bash dev.sh setup --force"
    echo "$want" > "$stamp"
  fi
}

cmd=${1:-}
case "$cmd" in
  setup)
    shift
    install_debian_packages
    setup_venv "${1:-}"
    ;;
  lock)
    shift
    ensure_uv
    "$UV" lock --python "$(find_python)" "$@"
    log "uv.lock updated; 'bash dev.sh setup' installs it. Commit uv.lock with pyproject.toml."
    ;;
  check-lock)
    ensure_uv
    check_lock
    log "uv.lock is up to date with pyproject.toml"
    ;;
  app)
    shift
    install_debian_packages
    setup_venv
    export PYQTGRAPH_QT_LIB=PySide6
    # stored bench figures of this checkout help the cost estimates (an installed app measures)
    export SONGWRITER_BENCH_DIR="$PWD/bench/results"
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
      log "no display found (DISPLAY is unset): starting the app on a virtual screen with xvfb-run"
      exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/songwriter-app "$@"
    fi
    exec .venv/bin/songwriter-app "$@"
    ;;
  test)
    shift
    install_debian_packages
    setup_venv
    export QT_QPA_PLATFORM=offscreen PYQTGRAPH_QT_LIB=PySide6
    exec .venv/bin/python -m pytest -q "$@"
    ;;
  *)
    echo "usage: bash dev.sh app [CLIP] | test [PYTEST ARGS] | setup [--force] | lock [UV LOCK ARGS] | check-lock" >&2
    exit 2
    ;;
esac
