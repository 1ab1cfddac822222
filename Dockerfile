# Static binary on a distroless, non-root base; works with a read-only root
# file system (state lives under /var/lib/remediator, mount a volume there
# when using the embedded server).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/remediator ./cmd/remediator

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/remediator /usr/local/bin/remediator
ENV XDG_STATE_HOME=/var/lib
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/remediator"]
CMD ["run"]
