#!/usr/bin/env bash
# Incumbent conformance: run the public Python SDK titan-rdm-sdk 2.0.0,
# unchanged, against a fresh trdm emulator loaded with fixtures/clinics.toml.
# Proves the emulator speaks the protocol the incumbent client speaks.
#
#   scripts/incumbent-conformance.sh            # uses target/debug/trdm
#   TRDM_BIN=target/release/trdm scripts/incumbent-conformance.sh
#
# Needs python3 (with venv) and access to PyPI on the first run; the venv is
# kept in target/incumbent-venv. Exit code = that of tests/incumbent/conformance.py.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

TRDM_BIN="${TRDM_BIN:-target/debug/trdm}"
VENV="${INCUMBENT_VENV:-target/incumbent-venv}"

if [[ ! -x "$TRDM_BIN" ]]; then
    echo "error: emulator binary $TRDM_BIN not found (cargo build -p trdm-cli, or set TRDM_BIN)" >&2
    exit 2
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "creating $VENV"
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    'titan-rdm-sdk==2.0.0' 'pandas<3'

tmp="$(mktemp -d)"
emulator_pid=""
cleanup() {
    if [[ -n "$emulator_pid" ]] && kill -0 "$emulator_pid" 2>/dev/null; then
        kill "$emulator_pid" 2>/dev/null || true
        wait "$emulator_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$TRDM_BIN" emulator \
    --fixture fixtures/clinics.toml \
    --db "$tmp/emulator.db" \
    --listen 127.0.0.1:0 \
    --export-delay 0.2 \
    --import-delay 0.1 \
    >"$tmp/emulator.out" 2>"$tmp/emulator.err" &
emulator_pid=$!

url=""
for _ in $(seq 1 300); do
    url="$(grep -o -m1 'listening on http://[^[:space:]]*' "$tmp/emulator.out" 2>/dev/null | sed 's/^listening on //' || true)"
    [[ -n "$url" ]] && break
    if ! kill -0 "$emulator_pid" 2>/dev/null; then
        echo "error: emulator exited before listening" >&2
        cat "$tmp/emulator.out" "$tmp/emulator.err" >&2 || true
        exit 2
    fi
    sleep 0.1
done
if [[ -z "$url" ]]; then
    echo "error: emulator did not print 'listening on http://HOST:PORT' within 30 s" >&2
    cat "$tmp/emulator.out" "$tmp/emulator.err" >&2 || true
    exit 2
fi
echo "emulator: $url (pid $emulator_pid)"

export TITAN_URL="$url"
status=0
"$VENV/bin/python" tests/incumbent/conformance.py || status=$?
if [[ $status -ne 0 ]]; then
    echo "--- emulator stderr (last 40 lines) ---" >&2
    tail -n 40 "$tmp/emulator.err" >&2 || true
fi
exit "$status"
