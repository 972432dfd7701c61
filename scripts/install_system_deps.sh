#!/usr/bin/env bash
# Installs the Debian packages batch-video needs, only those missing.
#   scripts/install_system_deps.sh          ffmpeg, espeak-ng, a font with Romanian diacritics
#   scripts/install_system_deps.sh --test   also PostgreSQL, Redis, Chromium, sox and LibreOffice Calc (no GUI) for the test suite
set -euo pipefail

packages=()
command -v ffmpeg >/dev/null || packages+=(ffmpeg)
command -v espeak-ng >/dev/null || packages+=(espeak-ng)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || packages+=(fonts-dejavu-core)
# Only needed to create the venv: with one in place, skip starting a Python (a demo re-run pays every check).
if [ ! -x .venv/bin/python ] && [ -z "${BATCH_VIDEO_SKIP_VENV_CHECK:-}" ] && ! python3 -c 'import ensurepip' 2>/dev/null; then
  packages+=(python3-venv)
fi
if [ "${1:-}" = "--test" ]; then
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
  command -v chromium >/dev/null || packages+=(chromium)
  command -v redis-server >/dev/null || packages+=(redis-server)
  command -v sox >/dev/null || packages+=(sox)
  # A batch report must open in LibreOffice (tests/batch_video/test_report.py converts one with soffice --headless).
  command -v soffice >/dev/null || packages+=(libreoffice-calc-nogui)
fi

[ ${#packages[@]} -eq 0 ] && exit 0
echo "installing: ${packages[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
