# Repertoire (InfluxDB discovery service) container image.
#
#   docker build -t repertoire-influx .
#   docker run -p 8080:8080 \
#     -v "$PWD/values.yaml:/etc/repertoire/values.yaml:ro" \
#     -v "$PWD/secrets:/etc/repertoire/secrets:ro" repertoire-influx
#
# The default command serves /etc/repertoire/values.yaml with secrets from
# /etc/repertoire/secrets on 0.0.0.0:8080; pass other `serve` flags as the
# command (docker-compose.yml does). The HEALTHCHECK probes port 8080.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Non-root runtime user with a fixed numeric id (Kubernetes runAsNonRoot can
# check a numeric USER).
RUN groupadd --system --gid 10001 repertoire \
    && useradd --system --uid 10001 --gid repertoire --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin repertoire

# Install the package from the repository (see .dockerignore for what is
# sent), then drop the sources.
WORKDIR /build
COPY setup.cfg pyproject.toml README.md ./
COPY server ./server
COPY contracts ./contracts
RUN pip install --no-compile . \
    && rm -rf /build \
    && mkdir -p /etc/repertoire/secrets

WORKDIR /
USER 10001:10001
EXPOSE 8080

HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=3).status == 200 else 1)"]

ENTRYPOINT ["repertoire"]
CMD ["serve", "--values", "/etc/repertoire/values.yaml", "--secrets-dir", "/etc/repertoire/secrets", "--host", "0.0.0.0", "--port", "8080"]
