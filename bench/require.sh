# Sourced by the bench/*.sh scripts from the project root: installs wrk
# (Debian package) when missing and puts the pinned node tools first.
if ! command -v wrk >/dev/null; then
  echo "==> installing wrk"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi
export PATH="$PWD/node_modules/.bin:$PATH"
