#!/usr/bin/env bash
# Make a Pulumi engine available to the project, once per machine.
#
# A `pulumi` on PATH at least as new as the pinned release is used as it is. Otherwise the
# pinned CLI is built from the Go module proxy into .tools/bin (about 3 minutes on 2 cores;
# a second run reuses it), with the two Python launchers the engine runs: the language host
# and the dynamic provider. Prints the folder to put first on PATH, or nothing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools_bin="$root/.tools/bin"
python="${PYTHON:-$root/.venv/bin/python}"
pinned=$(grep -Eo 'github.com/pulumi/pulumi/pkg/v3 v[0-9]+\.[0-9]+\.[0-9]+' "$root/engine/go.mod" | awk '{print $2}')

log() { echo "engine: $*" >&2; }

# True when version $1 is at least version $2 (both like v3.274.0).
at_least() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$2" ]; }

# The pulumi on PATH, ignoring the one this script may have built earlier.
system_pulumi() {
  local path_without_tools
  path_without_tools=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$tools_bin" | paste -sd: -)
  PATH="$path_without_tools" command -v pulumi || true
}

write_launchers() {
  # The language host replaces Pulumi's Go host, which the proxy here does not serve.
  cat > "$tools_bin/pulumi-language-python" <<EOF
#!/bin/sh
exec "$python" -u "$root/engine/language_host.py" "\$@"
EOF
  # The engine starts this for Python dynamic providers. The provider must import the
  # program's modules, so it runs in the program's virtualenv when Pulumi.yaml names one.
  cat > "$tools_bin/pulumi-resource-pulumi-python" <<EOF
#!/bin/sh
python="$python"
if [ -n "\${PULUMI_RUNTIME_VIRTUALENV:-}" ]; then
  case "\$PULUMI_RUNTIME_VIRTUALENV" in
    /*) venv="\$PULUMI_RUNTIME_VIRTUALENV" ;;
    *) venv="\$PWD/\$PULUMI_RUNTIME_VIRTUALENV" ;;
  esac
  [ -x "\$venv/bin/python" ] && python="\$venv/bin/python"
fi
exec "\$python" -u -m pulumi.dynamic "\$@"
EOF
  chmod +x "$tools_bin/pulumi-language-python" "$tools_bin/pulumi-resource-pulumi-python"
}

build_cli() {
  command -v go >/dev/null || { log "no pulumi $pinned or newer on PATH, and no Go toolchain to build one; install Go or Pulumi $pinned"; exit 1; }
  log "building Pulumi CLI $pinned from the Go module proxy (about 3 minutes, once per machine; log: .tools/build.log)"
  local started=$SECONDS
  mkdir -p "$tools_bin"
  if ! (cd "$root/engine" && go build -trimpath \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pinned" \
      -o "$tools_bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) > "$root/.tools/build.log" 2>&1; then
    tail -n 20 "$root/.tools/build.log" >&2
    log "build failed; the full log is in .tools/build.log"
    exit 1
  fi
  log "built in $((SECONDS - started)) s"
}

main() {
  local found version
  found=$(system_pulumi)
  if [ -n "$found" ]; then
    version=$("$found" version 2>/dev/null || echo v0)
    if at_least "$version" "$pinned"; then
      log "using $found ($version)"
      rm -f "$tools_bin/pulumi" "$tools_bin/pulumi-language-python" "$tools_bin/pulumi-resource-pulumi-python"
      return
    fi
    log "$found is $version, older than the pinned $pinned"
  fi

  if [ -x "$tools_bin/pulumi" ] && [ "$("$tools_bin/pulumi" version 2>/dev/null)" = "$pinned" ]; then
    log "reusing .tools/bin/pulumi ($pinned)"
  else
    build_cli
  fi
  write_launchers
  echo "$tools_bin"
}

main "$@"
