# syntax=docker/dockerfile:1
# battlake: a static binary on distroless, running as an unprivileged user.
#   docker build -t battlake .
#   docker run --rm -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY battlake run --lake s3://bucket/lake
# The image has no shell: everything is flags and environment (see deploy/).

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not refetch them.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# No cgo: the CLI needs none (DuckDB is a test-only dependency), and a
# static binary runs on the distroless static base.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/battlake ./cmd/battlake

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/battlake /usr/local/bin/battlake
# 65532 is distroless's "nonroot"; its home is writable for a local ./lake.
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/local/bin/battlake"]
CMD ["--help"]
