#!/usr/bin/env bash
# The house rules, checked: rustfmt, clippy (every target, warnings are errors), and on the Python package
# ruff (lint and format) and mypy --strict. scripts/test.sh runs this first; any finding fails it.
#
#   scripts/lint.sh            # everything
#   scripts/lint.sh --fix      # rustfmt and ruff rewrite what they can, then everything is checked
#
# The linters' venv lives under the cargo target directory ($CARGO_TARGET_DIR/lint-venv), versions pinned
# so that a new release of a linter cannot fail a commit that passed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
venv="$target_dir/lint-venv"
tools=(ruff==0.17.6 mypy==2.4.1 pyarrow==26.0.1 pyarrow-stubs==20.0.0.20260819 pandas-stubs==3.1.0.261029)

if [[ "${1:-}" == "--fix" ]]; then
    cargo fmt --all
    cargo fmt --manifest-path python/Cargo.toml
fi

[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
if [[ ! -f "$venv/.tools" ]] || [[ "$(cat "$venv/.tools")" != "${tools[*]}" ]]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${tools[@]}"
    echo "${tools[*]}" >"$venv/.tools"
fi
if [[ "${1:-}" == "--fix" ]]; then
    (cd python && "$venv/bin/ruff" format . && "$venv/bin/ruff" check --fix .)
fi

status=0
run() {
    echo "   $*"
    "$@" || { status=1; return 0; }
}
run cargo fmt --all --check
run cargo fmt --manifest-path python/Cargo.toml --check
run cargo clippy --workspace --all-targets --locked --quiet -- -D warnings
# The extension module is its own workspace, built by dev.sh into $target_dir/python: check it there.
run env CARGO_TARGET_DIR="$target_dir/python" cargo clippy --manifest-path python/Cargo.toml --all-targets \
    --locked --quiet -- -D warnings
run "$venv/bin/ruff" check --quiet python
run "$venv/bin/ruff" format --check --quiet python
run env -C python "$venv/bin/mypy"
if [[ $status -ne 0 ]]; then
    echo "error: the house rules found something (scripts/lint.sh --fix rewrites what formatters can)" >&2
fi
exit $status
