#!/usr/bin/env bash
# Local emulators of the object stores a warehouse can live in, for the tests:
#   S3:                 moto's server (PyPI `moto[server]`)
#   Azure Blob Storage: Azurite (npm `azurite`)
# Google Cloud Storage has none here: fake-gcs-server (1.56) answers object_store's XML-API uploads with
# 400 "invalid uploadType", so `gs://` warehouses are untested (see the README).
#
#   scripts/object-stores.sh start DIR   # installs what is missing, starts both on free loopback ports
#                                        # with a bucket / container `trdm-test` each, their data under DIR;
#                                        # prints the environment that points delta-rs at them (export lines)
#   scripts/object-stores.sh stop DIR    # stops them
#
# The printed environment is each cloud's usual variables (AWS_ENDPOINT_URL, AZURE_STORAGE_USE_EMULATOR,
# …) and TRDM_TEST_WAREHOUSES, the warehouse URLs the tests write under. Installs are
# cached under ${CARGO_TARGET_DIR:-target}/object-stores, never in the work tree.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
cache="$target/object-stores"
moto_version=5.2.6
azurite_version=3.37.0

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
action="$1"
dir="$2"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_for() { # NAME URL LOG: until the URL answers over HTTP (any status), at most 60 s
    for _ in $(seq 1 240); do
        if python3 - "$2" <<'EOF' 2>/dev/null; then return 0; fi
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
EOF
        sleep 0.25
    done
    echo "error: $1 did not start; its log, $3:" >&2
    tail -n 30 "$3" >&2 || true
    exit 1
}

install() {
    mkdir -p "$cache"
    local venv="$cache/venv-$moto_version"
    if [[ ! -x "$venv/bin/moto_server" ]]; then
        echo "== object stores: moto[server]==$moto_version, azure-storage-blob" >&2
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "moto[server]==$moto_version" azure-storage-blob >&2
    fi
    local npm_dir="$cache/azurite-$azurite_version"
    if [[ ! -x "$npm_dir/node_modules/.bin/azurite-blob" ]]; then
        command -v npm >/dev/null || { echo "error: npm is required (Azurite, the Azure storage emulator)" >&2; exit 2; }
        echo "== object stores: npm install azurite@$azurite_version" >&2
        mkdir -p "$npm_dir"
        npm install --silent --no-audit --no-fund --prefix "$npm_dir" "azurite@$azurite_version" >&2
    fi
    echo "$venv" "$npm_dir"
}

start() {
    local venv npm_dir
    read -r venv npm_dir < <(install)
    mkdir -p "$dir/s3" "$dir/azure"
    : > "$dir/pids"

    local s3_port az_port
    s3_port="$(free_port)"
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" > "$dir/s3/server.log" 2>&1 &
    echo $! >> "$dir/pids"

    az_port="$(free_port)"
    "$npm_dir/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$az_port" \
        --location "$dir/azure" --skipApiVersionCheck --silent > "$dir/azure/server.log" 2>&1 &
    echo $! >> "$dir/pids"

    wait_for "moto (S3)" "http://127.0.0.1:$s3_port/" "$dir/s3/server.log"
    wait_for "Azurite" "http://127.0.0.1:$az_port/" "$dir/azure/server.log"

    # The bucket and the container.
    python3 - "http://127.0.0.1:$s3_port/trdm-test" <<'EOF'
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="PUT"), timeout=10)
EOF
    # Azurite's well-known development account and key (public, documented by Microsoft).
    local az_account=devstoreaccount1
    local az_key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
    "$venv/bin/python" - "http://127.0.0.1:$az_port/$az_account" "$az_account" "$az_key" <<'EOF'
import sys
from azure.storage.blob import BlobServiceClient
url, account, key = sys.argv[1:]
BlobServiceClient(url, credential={"account_name": account, "account_key": key}).create_container("trdm-test")
EOF

    cat <<EOF
export TRDM_TEST_WAREHOUSES='s3://trdm-test/warehouse az://trdm-test/warehouse'
export AWS_ENDPOINT_URL='http://127.0.0.1:$s3_port' AWS_ALLOW_HTTP=true AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=trdm-test-key AWS_SECRET_ACCESS_KEY=trdm-test-s3-secret
export AZURE_STORAGE_USE_EMULATOR=true AZURITE_BLOB_STORAGE_URL='http://127.0.0.1:$az_port'
export AZURE_STORAGE_ACCOUNT_NAME=$az_account AZURE_STORAGE_ACCOUNT_KEY='$az_key'
EOF
}

stop() {
    [[ -f "$dir/pids" ]] || return 0
    while read -r pid; do
        kill "$pid" 2>/dev/null || true
    done < "$dir/pids"
    rm -f "$dir/pids"
}

case "$action" in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
