#!/usr/bin/env bash
# Regenerates EF Core's compiled model of BerthDbContext for SQLite (src/Berth.Metadata/CompiledModels/Sqlite).
# The server uses it for the default embedded database instead of building the model at start-up
# (docs/performance.md). Run it after every model change, together with `dotnet ef migrations add`;
# the Metadata test "The_compiled_SQLite_model_matches_the_model" fails while it is stale.
#
#   bash scripts/ef-compiled-model.sh
#
# PostgreSQL builds its model at start-up as before (a compiled model is provider-specific).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$PATH:${HOME}/.dotnet/tools" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
command -v dotnet-ef >/dev/null 2>&1 || { echo "ef-compiled-model.sh: install the EF tool first: dotnet tool install --global dotnet-ef" >&2; exit 1; }
out="$root/src/Berth.Metadata/CompiledModels/Sqlite"
rm -rf "$out"
cd "$root/src/Berth.Metadata"
dotnet ef dbcontext optimize --configuration Release --context BerthDbContext \
  --output-dir CompiledModels/Sqlite --namespace Berth.Metadata.CompiledModels.Sqlite
# The generated assembly attribute would make EF pick this SQLite model for every provider (PostgreSQL too);
# the server passes it explicitly (UseModel) for SQLite only.
rm -f "$out/BerthDbContextAssemblyAttributes.cs"
rm -f design.db
echo "ef-compiled-model.sh: regenerated $out"
