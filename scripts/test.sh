#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need (the
# versitygw S3 server, cached in .cache/bin; DuckDB's static library comes
# through the Go module proxy), starts versitygw on a free 127.0.0.1 port
# with a temp folder, runs `go test ./...`, and stops the server.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO
cd "$REPO"

# Sourcing starts the server and chains s3server_stop onto the EXIT trap.
# shellcheck source=scripts/s3server.sh
source "$REPO/scripts/s3server.sh" || { echo "test.sh: could not start the S3 test server" >&2; exit 1; }
test -n "${BATTLAKE_TEST_S3_ENDPOINT:-}" || { echo "test.sh: S3 test server not running" >&2; exit 1; }
echo "test.sh: versitygw at $BATTLAKE_TEST_S3_ENDPOINT (bucket $BATTLAKE_TEST_S3_BUCKET)"

# cgo is required by the DuckDB readback tests.
export CGO_ENABLED=1
go vet ./...
test -z "$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
go test -count=1 -timeout 20m "$@" ./...
