#!/bin/sh
# The Debian packages the tests use, installed when missing: chromium and
# chromium-driver (the live page's tests in a real browser) and libportaudio2
# (sound cards for `aegan watch`). Needs root, or sudo.
set -e
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
ldconfig -p 2>/dev/null | grep -q 'libportaudio\.so\.2' || missing="$missing libportaudio2"
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "Install$missing with your system's package manager: the browser and sound-card tests need them." >&2
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
