#!/usr/bin/env bash
# Berth vs CNCF Distribution side by side (bench/README.md). One command from a clean clone:
#
#   bash bench/run.sh                 # full run (about 5-8 minutes on 2 cores), writes bench/results/<date>.md
#   bash bench/run.sh --quick         # smaller sizes and shorter wrk runs, a smoke test (about 2 minutes)
#   bash bench/run.sh --help          # the harness's options (rounds, sizes, wrk seconds, output file)
#
# It installs what it needs from Debian when run as root (docker-registry, wrk, nginx, openssl, curl,
# python3), publishes Berth in Release (the release package's build), then runs bench/harness.py, which starts and stops every server itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(docker-registry wrk apache2-utils nginx openssl curl python3 coreutils)
commands=(docker-registry wrk ab nginx openssl curl python3 split)
missing=()
for i in "${!commands[@]}"; do
  command -v "${commands[$i]}" >/dev/null 2>&1 || [[ -x "/usr/sbin/${commands[$i]}" ]] || missing+=("${packages[$i]}")
done
if ((${#missing[@]})); then
  if [[ "$(id -u)" != 0 ]]; then
    echo "bench: missing ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root" >&2
    exit 1
  fi
  echo "bench: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
command -v dotnet >/dev/null 2>&1 || { echo "bench: 'dotnet' (.NET 10 SDK) is not on PATH" >&2; exit 1; }

quick=()
rest=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=(--blob-mib 64 --chunk-mib 8 --big-mib 512 --wrk-seconds 2 --tags 2000,20000) ;;
    *) rest+=("$arg") ;;
  esac
done

# The release build users run: the publish profile of scripts/package.sh (Release, self-contained single file,
# ReadyToRun), built into .artifacts/bench (git-ignored; the working tree's bin/ and obj/ are not touched).
# A second run only recompiles what changed.
case "$(uname -m)" in
  aarch64|arm64) rid=linux-arm64 ;;
  *) rid=linux-x64 ;;
esac
echo "bench: publishing Berth (Release, $rid, ReadyToRun) into .artifacts/bench" >&2
# A fresh output folder each time: publishing over an earlier single-file output has left it without the SQLite
# native library (libe_sqlite3.so) that must sit beside the executable.
rm -rf .artifacts/bench/berth
dotnet publish src/Berth.Server/Berth.Server.csproj -p:PublishProfile="$rid" --artifacts-path .artifacts/bench/build \
  -o .artifacts/bench/berth -nologo -v q -clp:ErrorsOnly >&2
berth=.artifacts/bench/berth/berth
[[ -x "$berth" ]] || { echo "bench: the publish made no $berth" >&2; exit 1; }
[[ -f .artifacts/bench/berth/libe_sqlite3.so ]] || { echo "bench: the publish put no libe_sqlite3.so beside $berth" >&2; exit 1; }

# The harness bounds each step itself; this is the backstop (it still cleans up on SIGTERM).
exec timeout -k 20 1200 python3 bench/harness.py --berth "$berth" "${quick[@]}" "${rest[@]}"
