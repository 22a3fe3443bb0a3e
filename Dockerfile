# syntax=docker/dockerfile:1
# jobwatch image: a venv built from uv.lock, copied onto a slim Python runtime as non-root.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
WORKDIR /src
# Only what the wheel needs (see .dockerignore); the venv path must match the runtime stage.
COPY pyproject.toml uv.lock README.md ./
COPY exporter/ exporter/
COPY rules/config.yaml rules/config.yaml
COPY rules/templates/ rules/templates/
COPY alertmanager/templates/ alertmanager/templates/
COPY docker/build-venv.sh /usr/local/bin/build-venv.sh
RUN ["/usr/local/bin/build-venv.sh", "/src", "/opt/jobwatch"]

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="jobwatch" \
      org.opencontainers.image.description="Prometheus exporter for Kubernetes Jobs that fail silently" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/jobwatch/jobwatch" \
      org.opencontainers.image.url="https://github.com/jobwatch/jobwatch" \
      org.opencontainers.image.vendor="jobwatch"
COPY --from=build /opt/jobwatch /opt/jobwatch
ENV PATH="/opt/jobwatch/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
EXPOSE 9816
ENTRYPOINT ["jobwatch"]
CMD ["serve"]
