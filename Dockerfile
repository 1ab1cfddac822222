# syntax=docker/dockerfile:1
# Static binary on a distroless, non-root base; works with a read-only root
# file system. A release builds it as (deploy/README.md, Releases):
#
#   docker build --build-arg VERSION=v0.2.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) -t ghcr.io/remediator/remediator:v0.2.0 .
#
# The builder is the Go release go.mod names (go 1.26.8), with GOTOOLCHAIN=local
# so the build never downloads another toolchain; deploy/dockerfile_test.go checks
# that the tag follows go.mod.
FROM golang:1.26.8-bookworm AS build
ENV GOTOOLCHAIN=local CGO_ENABLED=0
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The context has no .git (.dockerignore), so the binary carries no VCS
# information: these arguments stand in for it (`remediator version`).
ARG VERSION=""
ARG REVISION=""
ARG BUILD_DATE=""
RUN go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X main.version=${VERSION} -X main.revision=${REVISION} -X main.buildDate=${BUILD_DATE}" \
      -o /out/remediator ./cmd/remediator \
 && mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=""
ARG REVISION=""
ARG BUILD_DATE=""
# No LICENSE file in the repository yet: NOASSERTION (SPDX) until there is one.
LABEL org.opencontainers.image.title="remediator" \
      org.opencontainers.image.description="Restores Alibaba Cloud and Huawei Cloud encryption settings from CloudEvents on NATS JetStream" \
      org.opencontainers.image.source="https://github.com/remediator/remediator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      org.opencontainers.image.licenses="NOASSERTION"
COPY --from=build /out/remediator /usr/local/bin/remediator
# The state directory (the embedded server's data, $XDG_STATE_HOME/remediator),
# owned by the nonroot user: distroless has no shell to create it at run time.
COPY --from=build --chown=65532:65532 /out/state /var/lib/remediator
ENV XDG_STATE_HOME=/var/lib
VOLUME /var/lib/remediator
# /metrics, /healthz and /readyz (run --http 0.0.0.0:9464, as deploy/kubernetes does).
EXPOSE 9464
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/remediator"]
CMD ["run"]
