# syntax=docker/dockerfile:1
# Ferry's image: `docker build -t ferry:0.1.0 .` at the workspace root. Multi-stage: the release
# binary is built in the Rust image, the runtime is Debian slim with what Ferry runs as child
# processes — git (fetch, push for `ferry image set` and bootstrap) and ssh (ssh:// repositories),
# kubectl (Kustomize: `kubectl kustomize`) and helm (charts) — as a non-root user. Not
# distroless: Ferry shells out to those tools.

# The toolchain CI builds and tests with (the workspace's rust-version is the minimum).
ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN} AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p ferry \
 && install -D -m 0755 target/release/ferry /out/ferry

# kubectl and helm, checked against their published SHA-256 sums.
FROM debian:${DEBIAN}-slim AS tools
ARG KUBECTL_VERSION=v1.32.4
ARG HELM_VERSION=v3.17.3
ARG TARGETARCH=amd64
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /tools
RUN curl -fsSLO "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${TARGETARCH}/kubectl" \
 && echo "$(curl -fsSL "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${TARGETARCH}/kubectl.sha256")  kubectl" | sha256sum -c - \
 && chmod 0755 kubectl \
 && curl -fsSLO "https://get.helm.sh/helm-${HELM_VERSION}-linux-${TARGETARCH}.tar.gz" \
 && echo "$(curl -fsSL "https://get.helm.sh/helm-${HELM_VERSION}-linux-${TARGETARCH}.tar.gz.sha256sum" | cut -d' ' -f1)  helm-${HELM_VERSION}-linux-${TARGETARCH}.tar.gz" | sha256sum -c - \
 && tar -xzf "helm-${HELM_VERSION}-linux-${TARGETARCH}.tar.gz" --strip-components=1 "linux-${TARGETARCH}/helm"

FROM debian:${DEBIAN}-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git openssh-client tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 ferry \
 && useradd --uid 65532 --gid 65532 --home-dir /var/lib/ferry --create-home --shell /usr/sbin/nologin ferry
COPY --from=tools /tools/kubectl /tools/helm /usr/local/bin/
COPY --from=build /out/ferry /usr/local/bin/ferry
# The root filesystem may be read-only (as `ferry install` runs it): the cache and HOME live in
# /var/lib/ferry, an emptyDir in the pod.
ENV HOME=/var/lib/ferry FERRY_DATA_DIR=/var/lib/ferry
USER 65532:65532
WORKDIR /var/lib/ferry
EXPOSE 8080 8081
# tini reaps the git and ssh processes Ferry starts.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/ferry"]
CMD ["controller", "--listen=0.0.0.0:8080", "--health-listen=0.0.0.0:8081"]
