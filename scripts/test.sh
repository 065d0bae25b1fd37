#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test of every crate, with the PostgreSQL
# variants when a server is reachable. Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL variants: use AGENTRY_TEST_POSTGRES_URL if set, else the local server if it answers.
if [ -z "${AGENTRY_TEST_POSTGRES_URL:-}" ]; then
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
    export AGENTRY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/test"
  else
    echo "note: no PostgreSQL at 127.0.0.1:5432; the PostgreSQL variants will be skipped" >&2
  fi
fi
echo "==> PostgreSQL tests: ${AGENTRY_TEST_POSTGRES_URL:-skipped}"

# The code sandbox (bubblewrap) is part of the product: install it where we can, else say why
# the sandbox tests will fail.
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing bubblewrap (code sandbox)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap
  else
    echo "note: bwrap (Debian package bubblewrap) is missing; the sandbox tests will fail" >&2
  fi
fi

echo "==> cargo fmt --check"
cargo fmt --all --check

echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> tests"
if cargo nextest --version >/dev/null 2>&1; then
  # Doc tests first, so the suite's closing line is nextest's summary.
  cargo test --workspace --locked --doc
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
