#!/usr/bin/env bash
# The project's test command:  bash scripts/test.sh
#
# 1. installs the test peers (scripts/install-test-deps.sh; the apt part only as root),
# 2. builds Berth.slnx in Release,
# 3. runs `dotnet test` for every test project under tests/ (all of them, even after a failure),
#    each with a TRX logger into the results directory and a console logger,
# 4. prints one last line "N passed, N failed[, N skipped]" totalled over all projects, and
#    exits non-zero if anything failed, a project did not run, or no test ran at all.
#
# Environment:
#   BERTH_TEST_RESULTS       results directory (default: <repo>/TestResults; emptied first)
#   BERTH_TEST_FILTER        passed to `dotnet test --filter` for every project
#   BERTH_TEST_HANG_TIMEOUT  per-project hang timeout (default 20m; the test host is killed after it)
#   BERTH_E2E_TARGET         berth (default) | distribution: the server the end-to-end tests drive
#   BERTH_SKIP_DEPS=1        do not run install-test-deps.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
results=${BERTH_TEST_RESULTS:-$root/TestResults}
hang_timeout=${BERTH_TEST_HANG_TIMEOUT:-20m}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export BERTH_E2E_LOG_DIR=${BERTH_E2E_LOG_DIR:-$results/e2e-logs}

summary() { # passed failed skipped
  if (($3 > 0)); then echo "$1 passed, $2 failed, $3 skipped"; else echo "$1 passed, $2 failed"; fi
}

rm -rf "$results"
mkdir -p "$results"

if [[ "${BERTH_SKIP_DEPS:-0}" != 1 ]]; then
  if [[ "$(id -u)" == 0 ]]; then
    bash "$root/scripts/install-test-deps.sh"
  else
    bash "$root/scripts/install-test-deps.sh" --check || true
  fi
fi

echo "==> dotnet build Berth.slnx -c Release"
if ! dotnet build "$root/Berth.slnx" -c Release -nologo; then
  echo "build failed" >&2
  summary 0 0 0
  exit 1
fi

mapfile -t projects < <(find "$root/tests" -name '*.csproj' -not -path '*/bin/*' -not -path '*/obj/*' | sort)
if ((${#projects[@]} == 0)); then
  echo "no test projects under tests/" >&2
  summary 0 0 0
  exit 1
fi

# Reads one counter of the first <Counters …/> element of a TRX file (0 when absent).
counter() { # trx name
  local counters value
  counters=$(grep -o -m 1 '<Counters [^>]*>' "$1" || true)
  value=$(sed -n "s/.* $2=\"\([0-9]*\)\".*/\1/p" <<<"$counters")
  echo "${value:-0}"
}

total_passed=0 total_failed=0 total_skipped=0
problems=()
for project in "${projects[@]}"; do
  name=$(basename "$project" .csproj)
  project_results="$results/$name"
  mkdir -p "$project_results"

  # A test project missing from Berth.slnx was not built above: build it on its own.
  if [[ ! -d "$(dirname "$project")/bin/Release" ]]; then
    echo "==> $name is not built (missing from Berth.slnx?); building it alone"
    if ! dotnet build "$project" -c Release -nologo; then
      problems+=("$name: build failed")
      total_failed=$((total_failed + 1))
      continue
    fi
  fi

  echo "==> dotnet test $name"
  args=(test "$project" -c Release --no-build
        --results-directory "$project_results"
        --logger "trx;LogFileName=$name.trx"
        --logger "console;verbosity=normal"
        --blame-hang-timeout "$hang_timeout" --blame-hang-dump-type none)
  if [[ -n "${BERTH_TEST_FILTER:-}" ]]; then
    args+=(--filter "$BERTH_TEST_FILTER")
  fi
  set +e
  dotnet "${args[@]}"
  rc=$?
  set -e

  trx="$project_results/$name.trx"
  if [[ ! -f "$trx" ]]; then
    trx=$(find "$project_results" -name '*.trx' | sort | head -n 1)
  fi
  if [[ -z "$trx" || ! -f "$trx" ]]; then
    problems+=("$name: no TRX results (dotnet test exit code $rc)")
    total_failed=$((total_failed + 1))
    continue
  fi

  total=$(counter "$trx" total)
  executed=$(counter "$trx" executed)
  passed=$(counter "$trx" passed)
  failed=$(( $(counter "$trx" failed) + $(counter "$trx" error) + $(counter "$trx" timeout) + $(counter "$trx" aborted) ))
  skipped=$(( total - executed ))
  if ((skipped < 0)); then skipped=0; fi
  echo "    $name: $passed passed, $failed failed, $skipped skipped (exit code $rc)"

  if ((rc != 0 && failed == 0)); then
    # The test host crashed, hung or aborted without recording a failed test: count the project.
    problems+=("$name: dotnet test exit code $rc with no failed test recorded")
    failed=1
  elif ((rc != 0)); then
    problems+=("$name: $failed failed")
  fi
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  total_skipped=$((total_skipped + skipped))
done

echo
echo "results: $results"
for problem in "${problems[@]}"; do
  echo "  FAILED $problem"
done
status=0
if ((total_failed > 0 || ${#problems[@]} > 0)); then
  status=1
fi
if ((total_passed + total_failed == 0)); then
  echo "  FAILED no test ran"
  status=1
fi
summary "$total_passed" "$total_failed" "$total_skipped"
exit "$status"
