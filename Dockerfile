# syntax=docker/dockerfile:1
# Build: a static, pure-Go binary (modernc SQLite needs no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/crieur ./cmd/crieur \
 && mkdir -p /out/data

# Run: no shell, no package manager, a non-root user, CA roots for SMTP
# TLS and push services.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/crieur /usr/local/bin/crieur
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
ENV CRIEUR_LISTEN=0.0.0.0:8080 \
    CRIEUR_DATABASE_URL=sqlite:/data/crieur.db \
    CRIEUR_MAIL_OUTBOX=/data/mail-outbox \
    CRIEUR_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/crieur"]
CMD ["serve"]
