#!/usr/bin/env bash
# One entry point for a fresh machine (Debian 12, Python 3.11):
#   bash dev.sh app    set everything up, then open the app on the bundled demo clip
#   bash dev.sh test   set everything up, then run the whole test suite
# Setting up = the Debian packages the app needs (apt, as root or with sudo), a virtual
# environment in .venv, and the Python packages from pyproject.toml. Each step is skipped
# when it is already done, so running it again is quick.
set -euo pipefail
cd "$(dirname "$0")"

DEB_PACKAGES=(
  python3-venv python3-pip
  libportaudio2 libasound2 libsndfile1
  libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
  libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxcb-xfixes0 libx11-xcb1
  xvfb xauth x11-utils
)

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

install_debian_packages() {
  command -v dpkg-query >/dev/null 2>&1 || { log "not a Debian system: install PortAudio, libEGL, xcb libraries and Xvfb yourself"; return 0; }
  local missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { log "need root or sudo to install: ${missing[*]}"; exit 1; }
    sudo="sudo"
  fi
  log "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
  for py in python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$py"; return 0
    fi
  done
  log "Python 3.11 is required (Debian 12: apt-get install python3)"; exit 1
}

setup_venv() {
  local py stamp want
  if [ ! -x .venv/bin/python ]; then
    py=$(find_python)
    log "creating .venv with $py"
    "$py" -m venv .venv
  fi
  stamp=.venv/.installed
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing Python packages (torch with CUDA support is large: a few minutes the first time)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev]"
    echo "$want" > "$stamp"
  fi
}

cmd=${1:-}
case "$cmd" in
  app)
    shift
    install_debian_packages
    setup_venv
    export PYQTGRAPH_QT_LIB=PySide6
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
      log "no display found (DISPLAY is unset): starting the app on a virtual screen with xvfb-run"
      exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/songwriter-app "${@:-assets/demo-war-of-freedom-10s.wav}"
    fi
    exec .venv/bin/songwriter-app "${@:-assets/demo-war-of-freedom-10s.wav}"
    ;;
  test)
    shift
    install_debian_packages
    setup_venv
    export QT_QPA_PLATFORM=offscreen PYQTGRAPH_QT_LIB=PySide6
    exec .venv/bin/python -m pytest -q "$@"
    ;;
  *)
    echo "usage: bash dev.sh app [CLIP]   |   bash dev.sh test [PYTEST ARGS]" >&2
    exit 2
    ;;
esac
