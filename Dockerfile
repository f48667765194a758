# botwall's container image: the ext_proc gRPC service on port 9191, for an Envoy that runs beside it (the Helm
# chart's sidecar mode, or `--network container:botwall`, see the README) or calls it over the network.
#
#   docker build -t botwall:0.1.0 .
#   docker run --rm --read-only --tmpfs /tmp -p 9191:9191 botwall:0.1.0
#
# Runs as a non-root numeric user and writes nothing outside /tmp, so it works on a read-only root filesystem.
# tests/deploy/test_image.py checks this file and runs its ENTRYPOINT, CMD and HEALTHCHECK locally.

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: a wheel of botwall, then a virtualenv with it and its dependencies --------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ext_proc/ ext_proc/
# pip compiles every module to .pyc here, at build time: the runtime image cannot write them. The lab (simulator,
# training, demo shop, local stack: `botwall up`) is no part of the runtime: it leaves the image here, and the
# commands that need it say so in one line.
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/botwall/venv \
    && /opt/botwall/venv/bin/pip install /wheels/botwall-*.whl \
    && rm -r /opt/botwall/venv/lib/python3*/site-packages/botwall/lab

# --- runtime ------------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="botwall" \
      org.opencontainers.image.description="Server-side bot defence for Envoy: an ext_proc gRPC service" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/botwall/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    BOTWALL_HEALTH_ADDRESS=127.0.0.1:9191
# redis-server: `botwall serve --workers N` with state in memory shares its workers' state through a private one, on a
# Unix socket under /tmp (the Helm chart's botwall.workers); a single process never starts it. Unpinned: the base
# image's Debian release picks the version, as it does for the rest of the system.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 botwall \
    && useradd --system --uid 10001 --gid botwall --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin botwall
COPY --from=builder /opt/botwall/venv /opt/botwall/venv
# The annotated example policies; mount your own config over it (the Helm chart mounts a ConfigMap here).
COPY config/example.yaml /etc/botwall/botwall.yaml
# The scoring model's directory (a README until the model ships); a volume can be mounted over it.
COPY models/README.md models/model_card.json /opt/botwall/models/
USER 10001:10001
EXPOSE 9191
# gRPC health of the service on BOTWALL_HEALTH_ADDRESS: set that too if you change --listen's port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-m", "botwall.edge.healthcheck"]
ENTRYPOINT ["botwall"]
CMD ["serve", "--listen", "0.0.0.0:9191", "--config", "/etc/botwall/botwall.yaml"]
