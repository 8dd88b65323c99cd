#!/usr/bin/env bash
# Builds the release tarballs: a self-contained single-file Berth per runtime, with an example
# configuration, the systemd unit, a logrotate rule, the nginx config and the install guide.
#
#   bash scripts/package.sh                       # linux-x64 and linux-arm64
#   bash scripts/package.sh linux-x64 --out DIR   # one runtime, tarballs into DIR
#
# Output: DIR/berth-<version>-<rid>.tar.gz (default DIR: .artifacts/packages) and SHA256SUMS, each tarball
# holding one folder berth-<version>-<rid>/ with:
#   berth              the executable (self-contained, single file; runs without a .NET install)
#   libe_sqlite3.so    SQLite, loaded by berth from its own folder
#   appsettings.json   defaults and log levels (settings go to /etc/berth/berth.env instead)
#   berth.env          example settings (EnvironmentFile of the unit)
#   berth.service      systemd unit (own user, /var/lib/berth, /var/log/berth, hardening)
#   berth.logrotate    logrotate rule for /var/log/berth/berth.log
#   nginx-berth.conf   nginx reverse-proxy config (docs/reverse-proxy.md)
#   README.md          docs/install.md
# The build runs in a temporary artifacts folder, so it never touches the bin/ and obj/ of a working tree.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/.artifacts/packages"
rids=()
while (($# > 0)); do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --out=*) out=${1#--out=}; shift ;;
    linux-x64|linux-arm64) rids+=("$1"); shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "package.sh: unknown argument '$1' (runtimes: linux-x64, linux-arm64)" >&2; exit 2 ;;
  esac
done
if ((${#rids[@]} == 0)); then rids=(linux-x64 linux-arm64); fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

project="$root/src/Berth.Server/Berth.Server.csproj"
version=$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' "$root/Directory.Build.props")
if [[ -z "$version" ]]; then echo "package.sh: no <VersionPrefix> in Directory.Build.props" >&2; exit 1; fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for rid in "${rids[@]}"; do
  name="berth-$version-$rid"
  publish="$work/publish-$rid"
  stage="$work/stage/$name"
  echo "==> dotnet publish -p:PublishProfile=$rid"
  dotnet publish "$project" -p:PublishProfile="$rid" --artifacts-path "$work/build" -o "$publish" -nologo -v:minimal
  mkdir -p "$stage"
  install -m 0755 "$publish/berth" "$stage/berth"
  for lib in "$publish"/*.so; do install -m 0644 "$lib" "$stage/"; done
  install -m 0644 "$publish/appsettings.json" "$stage/appsettings.json"
  install -m 0644 "$root/dist/berth.env" "$stage/berth.env"
  install -m 0644 "$root/dist/berth.service" "$stage/berth.service"
  install -m 0644 "$root/dist/berth.logrotate" "$stage/berth.logrotate"
  install -m 0644 "$root/dist/nginx/berth.conf" "$stage/nginx-berth.conf"
  install -m 0644 "$root/docs/install.md" "$stage/README.md"
  tarball="$out/$name.tar.gz"
  tar -C "$work/stage" --owner=0 --group=0 --numeric-owner -czf "$tarball" "$name"
  echo "    $tarball ($(du -h "$tarball" | cut -f1))"
done

(cd "$out" && sha256sum berth-*.tar.gz > SHA256SUMS)
echo "==> $out/SHA256SUMS"
