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
