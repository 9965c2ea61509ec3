# syntax=docker/dockerfile:1
#
# memberflow worker image.
#
#   docker build -t memberflow:latest .
#   docker run --rm memberflow:latest memberflow --help
#
# Two stages: the builder has a compiler toolchain (for any dependency that
# ships no wheel for this platform) and installs the project into a venv;
# the runtime stage copies only that venv, so no compiler ends up in the image.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --upgrade pip setuptools wheel

WORKDIR /src
COPY . /src
# A regular (non-editable) install: packages agents, tables, models, config,
# engine, memberflow and module streams.py, plus the `memberflow` script.
RUN pip install . \
 && test -x /opt/venv/bin/memberflow


FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="memberflow" \
      org.opencontainers.image.description="Real-time membership/loyalty engine (Faust workers on Kafka)"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MEMBERFLOW_DATA_DIR=/data \
    MEMBERFLOW_WEB_HOST=0.0.0.0 \
    MEMBERFLOW_WEB_PORT=6066 \
    MEMBERFLOW_RULES_DIR=/app/config/rules

RUN groupadd --system --gid 10001 memberflow \
 && useradd --system --uid 10001 --gid memberflow --home-dir /app \
        --shell /usr/sbin/nologin memberflow \
 && mkdir -p /app /data /tokens \
 && chown memberflow:memberflow /app /data /tokens

COPY --from=builder /opt/venv /opt/venv
# Rule files read at run time from MEMBERFLOW_RULES_DIR.
COPY --chown=memberflow:memberflow config/ /app/config/

WORKDIR /app
USER memberflow

# RocksDB table state and Faust's worker data; one volume per worker.
VOLUME ["/data"]

# Faust web server: /metrics and the member lookup endpoints.
EXPOSE 6066

HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=5 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/metrics' % os.environ.get('MEMBERFLOW_WEB_PORT', '6066'), timeout=4)"]

CMD ["memberflow", "worker"]
