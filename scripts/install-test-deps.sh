#!/usr/bin/env bash
# Installs the real peers the tests drive (DESIGN.md, "Real peers for tests") from Debian 12's
# packages. Idempotent and quick: when every package is already installed it touches nothing
# (no apt-get update). Run as root; as another user it only reports what is missing.
#
#   bash scripts/install-test-deps.sh            # install what is missing (root)
#   bash scripts/install-test-deps.sh --check    # only report, never install
#   BERTH_TEST_DEPS=e2e bash scripts/…           # only the container tooling, not postgres/nginx/chromium
#
# Nothing under /etc is modified: the tests bring their own podman/containers configuration
# (temp root/runroot, vfs storage, CONTAINERS_CONF, CONTAINERS_STORAGE_CONF,
# CONTAINERS_REGISTRIES_CONF, REGISTRY_AUTH_FILE and a private trust policy).
set -euo pipefail

check_only=false
for arg in "$@"; do
  case "$arg" in
    --check) check_only=true ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "install-test-deps: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# Container tooling for tests/Berth.EndToEnd.Tests (podman's runtime pieces listed explicitly so
# a --no-install-recommends system still works), plus what the scripts themselves use.
e2e_packages=(
  skopeo podman buildah umoci docker-registry
  crun conmon netavark aardvark-dns containernetworking-plugins uidmap fuse-overlayfs slirp4netns
  jq curl ca-certificates procps python3
)
# The other real peers of DESIGN.md (PostgreSQL, nginx, Chromium for the browser tests, python-gitlab).
other_packages=(postgresql nginx chromium fonts-liberation python3-gitlab)

packages=("${e2e_packages[@]}")
if [[ "${BERTH_TEST_DEPS:-all}" != "e2e" ]]; then
  packages+=("${other_packages[@]}")
fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-test-deps: all ${#packages[@]} packages present"
else
  if $check_only || [[ "$(id -u)" != 0 ]]; then
    echo "install-test-deps: missing packages (run this script as root to install): ${missing[*]}" >&2
  else
    echo "install-test-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_options=(-o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0)
    apt-get "${apt_options[@]}" update -qq
    # No recommends: what the tests need is listed above (chromium's recommends alone pull in a desktop).
    apt-get "${apt_options[@]}" install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# Things that are not apt packages but the tests need.
if ! command -v dotnet >/dev/null 2>&1; then
  echo "install-test-deps: 'dotnet' (.NET 10 SDK) is not on PATH" >&2
  exit 1
fi
for tool in skopeo podman umoci /usr/bin/docker-registry; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-test-deps: warning: $tool not found; end-to-end tests will fail" >&2
  fi
done
exit 0
