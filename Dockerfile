# One image for every Tide binary; the manifests choose the entrypoint:
#   operator Deployment: command [tide-operator]
#   metrics adapter:     command [tide-metrics-adapter] (the operator's binary under another name)
#   scaler CronJob:      command [tide-scaler]
#   sample Application:  command [hello-service] (the image's default; the operator's binary too)
#
# Build:  docker build -t ghcr.io/tide-dev/tide:0.1.0 .
# Push:   docker push ghcr.io/tide-dev/tide:0.1.0
# (config/ and the operator's --scaler-image default refer to this tag.)

# --- build -------------------------------------------------------------------
# The same Swift release the tests run with (some dependencies need tools 6.2+).
FROM swift:6.3-bookworm AS build
# libyaml reads kubeconfigs (the build links Debian's).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libyaml-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY scripts ./scripts
COPY config ./config
# Builds each binary, fails if any is missing, and checks each answers --help
# (the tests run the same script).
RUN scripts/build-image-binaries.sh /out --configuration release --static

# --- runtime -----------------------------------------------------------------
FROM debian:bookworm-slim
# The statically linked Swift runtime still needs the C++ runtime, zlib and CA certificates
# (TLS to the API server and to Prometheus is verified); libyaml reads kubeconfigs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libstdc++6 zlib1g tzdata libyaml-0-2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
# A numeric non-root user, so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8443 8081
ENTRYPOINT []
CMD ["hello-service"]
