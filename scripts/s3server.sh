#!/usr/bin/env bash
# Start a throwaway S3 server (versitygw, posix backend) for the objstore
# S3 tests. Meant to be SOURCED so the exported variables reach `go test`:
#
#   source scripts/s3server.sh && go test ./pipeline/objstore/...
#
# Exports BATTLAKE_TEST_S3_{ENDPOINT,ACCESS,SECRET,BUCKET}; s3server_stop
# (also run from an EXIT trap) kills the server and removes its data.
# Deliberately no `set -e`: this file runs inside the caller's shell.

s3server_stop() {
	if [[ -n "${S3SERVER_PID:-}" ]]; then
		kill "$S3SERVER_PID" 2>/dev/null
		wait "$S3SERVER_PID" 2>/dev/null
	fi
	if [[ -n "${S3SERVER_DIR:-}" && -d "$S3SERVER_DIR" ]]; then
		rm -rf -- "$S3SERVER_DIR"
	fi
	unset S3SERVER_PID S3SERVER_DIR S3SERVER_LOG
	unset BATTLAKE_TEST_S3_ENDPOINT BATTLAKE_TEST_S3_ACCESS BATTLAKE_TEST_S3_SECRET BATTLAKE_TEST_S3_BUCKET
}

# _s3server_free_port prints a TCP port on 127.0.0.1 nobody listens on.
_s3server_free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' && return
	fi
	local port i
	for i in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		# A refused connection means the port is free.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	return 1
}

# _s3server_curl runs a SigV4-signed curl against the server. versitygw
# insists on x-amz-content-sha256, which curl's --aws-sigv4 does not send.
_s3server_curl() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$BATTLAKE_TEST_S3_ACCESS:$BATTLAKE_TEST_S3_SECRET" "$@"
}

s3server_start() {
	local repo bin port dir log i code
	repo="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
	bin="$repo/.cache/bin/versitygw"
	s3server_stop # a second `source` replaces the first server

	if [[ ! -x "$bin" ]]; then
		echo "s3server: installing versitygw v1.8.0 into $repo/.cache/bin (takes a few minutes)" >&2
		GOBIN="$repo/.cache/bin" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 || {
			echo "s3server: go install versitygw failed" >&2
			return 1
		}
	fi

	port="$(_s3server_free_port)" || { echo "s3server: no free port found" >&2; return 1; }
	dir="$(mktemp -d "${TMPDIR:-/tmp}/battlake-s3.XXXXXX")" || return 1
	log="$dir/versitygw.log"
	export BATTLAKE_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
	export BATTLAKE_TEST_S3_ACCESS="${BATTLAKE_TEST_S3_ACCESS_KEY:-battlake-test-access}"
	export BATTLAKE_TEST_S3_SECRET="${BATTLAKE_TEST_S3_SECRET_KEY:-battlake-test-secret}"
	export BATTLAKE_TEST_S3_BUCKET="battlake-test"
	S3SERVER_DIR="$dir"
	S3SERVER_LOG="$log"
	# posix backend: every top-level directory of the root is a bucket.
	mkdir "$dir/data" "$dir/data/$BATTLAKE_TEST_S3_BUCKET" || { s3server_stop; return 1; }

	"$bin" --port "127.0.0.1:$port" --access "$BATTLAKE_TEST_S3_ACCESS" \
		--secret "$BATTLAKE_TEST_S3_SECRET" --quiet posix "$dir/data" >"$log" 2>&1 &
	S3SERVER_PID=$!

	# Any HTTP answer (an unsigned request gets 403) means it is listening.
	for i in $(seq 1 100); do
		if ! kill -0 "$S3SERVER_PID" 2>/dev/null; then
			echo "s3server: versitygw exited during start-up:" >&2
			cat "$log" >&2
			unset S3SERVER_PID
			s3server_stop
			return 1
		fi
		code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BATTLAKE_TEST_S3_ENDPOINT/" || true)"
		[[ "$code" != "000" ]] && break
		sleep 0.1
	done
	if [[ "$code" == "000" ]]; then
		echo "s3server: versitygw did not answer on $BATTLAKE_TEST_S3_ENDPOINT within 10s" >&2
		cat "$log" >&2
		s3server_stop
		return 1
	fi

	# Verify the bucket with a signed HeadBucket; create it over S3 if the
	# directory was not picked up.
	code="$(_s3server_curl -I "$BATTLAKE_TEST_S3_ENDPOINT/$BATTLAKE_TEST_S3_BUCKET" || true)"
	if [[ "$code" != "200" ]]; then
		_s3server_curl -X PUT "$BATTLAKE_TEST_S3_ENDPOINT/$BATTLAKE_TEST_S3_BUCKET" >/dev/null || true
		code="$(_s3server_curl -I "$BATTLAKE_TEST_S3_ENDPOINT/$BATTLAKE_TEST_S3_BUCKET" || true)"
	fi
	if [[ "$code" != "200" ]]; then
		echo "s3server: bucket $BATTLAKE_TEST_S3_BUCKET not available (HeadBucket $code)" >&2
		s3server_stop
		return 1
	fi

	# Chain onto an EXIT trap the caller may already have.
	local prev=""
	if [[ -n "$(trap -p EXIT)" ]]; then
		eval "set -- $(trap -p EXIT)"
		prev="$3"
	fi
	if [[ "$prev" != *s3server_stop* ]]; then
		trap -- "s3server_stop${prev:+; $prev}" EXIT
	fi
	echo "s3server: versitygw pid $S3SERVER_PID on $BATTLAKE_TEST_S3_ENDPOINT, bucket $BATTLAKE_TEST_S3_BUCKET" >&2
}

s3server_start
