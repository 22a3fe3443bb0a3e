# syntax=docker/dockerfile:1
# jobwatch image: a venv built from uv.lock, copied onto a slim Python runtime as non-root.
#
# Both base images are build arguments. `docker build .` uses the public ones below; `make image`
# builds this same file with buildah and no registry, from a local Debian bookworm + python3 base
# (mmdebstrap) and a local uv image holding the PyPI wheel's binary of the pinned version
# (docker/build-image.sh). PYTHON_IMAGE must provide python3 3.11 on PATH.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS build
# The context holds only what the wheel needs (.dockerignore is an allow-list): one layer.
# The venv path must match the runtime stage. uv is mounted for the one step that uses it.
# Behind a TLS-intercepting proxy, pass its CA bundle as a secret (never stored in a layer):
#   docker build --secret id=ca-certificates,src=/etc/ssl/certs/ca-certificates.crt .
COPY . /src/
RUN --mount=type=bind,from=uv,source=/uv,target=/usr/local/bin/uv \
    --mount=type=secret,id=ca-certificates \
    ["/src/docker/build-venv.sh", "/src", "/opt/jobwatch"]

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
