# Shared helpers for the deploy/ scripts (sourced, not run).

step() { printf '\n==> %s\n' "$*"; }

require_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "CsMetrics needs the .NET 10 SDK (dotnet) on PATH; see https://dotnet.microsoft.com/download" >&2
    exit 1
  fi
  local version
  version=$(dotnet --version)
  if [[ "${version%%.*}" -lt 10 ]]; then
    echo "CsMetrics needs the .NET SDK 10.0.x; found $version" >&2
    exit 1
  fi
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
}

# Debian's Chromium for the dashboard's browser tests (Playwright drives it; it never downloads a
# browser of its own). Installed with apt when missing; CSMETRICS_CHROMIUM names another binary.
require_chromium() {
  if [[ -n "${CSMETRICS_CHROMIUM:-}" || -x /usr/bin/chromium ]]; then
    return
  fi
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "installing Debian's chromium package (for the dashboard tests)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
}
