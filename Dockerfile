# syntax=docker/dockerfile:1
# Build a static binary, then ship it with the shipped config, journeys and templates on a
# minimal base, running as a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/rapport ./cmd/rapport

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/rapport /app/rapport
COPY --from=build /src/config/*.yaml /app/config/
COPY --from=build /src/workflows/*.yaml /app/workflows/
COPY --from=build /src/templates/*.html /src/templates/*.txt /app/templates/
# The embedded default writes emails here when no SMTP server is configured.
ENV RAPPORT_OUTBOX=/tmp/outbox
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/app/rapport"]
CMD ["serve", "--config", "/app/config/rapport.yaml"]
