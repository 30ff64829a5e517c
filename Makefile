# battlake — see README.md.
GO ?= go

.PHONY: run test bench lint build clean

build:
	$(GO) build -o bin/battlake ./cmd/battlake

## run: the main job on the embedded default (whole fleet, 15 months at 1 h then 2 days at 5 s, every stage, into ./lake)
run:
	$(GO) run ./cmd/battlake run

## test: the whole suite (starts a versitygw S3 server for the S3 tests)
test:
	bash scripts/test.sh

## bench: Parquet write and telemetry throughput (fixed seeds, full fleet-day)
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./pipeline/... ./physics/... ./jobs/...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

clean:
	rm -rf bin lake
