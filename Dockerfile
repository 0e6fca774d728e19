# SyncHub container image: `make image` (docker build -t synchub:dev .); docs/deploy.md deploys
# it. Needs BuildKit (the default builder since Docker 23) for RUN --mount.
#
# Stage 1 builds the project's wheel; the final stage installs it (and its dependencies, all
# published as binary wheels: no compiler is needed or present) on a clean slim image.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hub ./hub
RUN pip wheel --no-cache-dir --no-deps -w /dist .

FROM python:3.11-slim
# OCI annotations (https://github.com/opencontainers/image-spec/blob/main/annotations.md);
# `make image` passes VERSION and REVISION; CI may pass CREATED and SOURCE (the repo URL).
ARG VERSION=dev \
    REVISION=unknown \
    CREATED=unknown \
    SOURCE=""
LABEL org.opencontainers.image.title="synchub" \
      org.opencontainers.image.description="Multi-cluster sync hub for Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.vendor="SyncHub" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim"
# Nothing is written at run time: no bytecode, unbuffered logs to stdout. Inline kubeconfig
# client certificates pass through a private temporary file (hub/kube/credentials.py): TMPDIR
# is /tmp, an emptyDir in deploy/ (the root filesystem is read-only there).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TMPDIR=/tmp \
    SYNCHUB_CONFIG=/etc/synchub/clusters.yaml
# The wheel is this project's own, built in the stage above (bind-mounted, so it leaves no
# layer); its dependencies are bounded by pyproject.toml. uid/gid 65532 as in distroless.
RUN --mount=type=bind,from=build,source=/dist,target=/dist \
    pip install --no-cache-dir /dist/*.whl \
    && groupadd --system --gid 65532 synchub \
    && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin synchub
USER 65532:65532
WORKDIR /
EXPOSE 8080
ENTRYPOINT ["synchub", "run"]
