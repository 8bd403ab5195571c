# partnerd: one binary. The build stage compiles it with Bun; the final image holds the binary alone,
# on distroless (glibc, which the binary links against, and nothing else: no shell, no package manager).

FROM oven/bun:1.4 AS build
WORKDIR /src
COPY package.json bun.lock ./
# Production dependencies only: the test tooling (vitest, embedded-postgres, playwright) is not needed.
RUN bun install --frozen-lockfile --production
COPY . .
RUN bun run build && mkdir -p /out/data && cp dist/partnerd /out/partnerd

FROM gcr.io/distroless/base-debian12:nonroot
WORKDIR /app
COPY --from=build --chown=nonroot:nonroot /out/ /app/
# Without a config file partnerd runs its built-in default: SQLite in ./data (here /app/data), port
# $PORT. Mount a config at /app/partnerd.yaml or point PARTNERD_CONFIG at one; not --config in CMD,
# which the health check below would not see.
ENV PORT=8080 PARTNERD_DATA=/app/data
VOLUME ["/app/data"]
EXPOSE 8080
USER nonroot
# No curl in this image: the binary asks its own /ready (a short-lived process every 30 s).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/app/partnerd", "health"]
ENTRYPOINT ["/app/partnerd"]
CMD ["serve"]
