# The controller image the Helm chart runs (charts/converge, values `image.*`).
#   docker build -t REGISTRY/converge:0.1.0 .
# Build stage: the release binary, from the locked dependency graph.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin converge

# Run stage: glibc and CA certificates only, no shell; uid 65532 is the chart's runAsUser.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/converge /usr/local/bin/converge
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/converge"]
CMD ["run", "--health-addr", "0.0.0.0:8080"]
