# The controller image the Helm chart runs (charts/converge, values `image.*`).
#   docker build --build-arg CONVERGE_GIT_COMMIT=$(git rev-parse --short=12 HEAD) \
#     -t REGISTRY/converge:0.1.0 .
# Build stage: the release binary, from the locked dependency graph. The context holds no
# .git, so the commit `converge version` and converge_build_info report comes in as an argument.
FROM rust:1-slim-bookworm AS build
ARG CONVERGE_GIT_COMMIT=unknown
ENV CONVERGE_GIT_COMMIT=${CONVERGE_GIT_COMMIT}
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
RUN cargo build --release --locked --bin converge

# Run stage: glibc and CA certificates only, no shell; uid 65532 is the chart's runAsUser.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/converge /usr/local/bin/converge
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/converge"]
CMD ["run", "--health-addr", "0.0.0.0:8080"]
