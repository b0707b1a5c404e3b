# newsmon: one image for every role (scheduler, crawler, worker, web), installed from requirements.lock.
#   docker build -t newsmon .
#   docker build --build-arg BASE_IMAGE=registry.example/python:3.11-slim -t newsmon .   # another registry
# BASE_IMAGE needs python3 (3.11 or newer) with venv.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/newsmon
# every dependency pinned with its hashes: the same versions as the tests ran on, whatever PyPI holds today
COPY requirements.lock /tmp/requirements.lock
RUN /opt/newsmon/bin/pip install --no-deps --require-hashes -r /tmp/requirements.lock
COPY pyproject.toml README.md /src/
COPY newsmon /src/newsmon
COPY crawler /src/crawler
COPY scheduler /src/scheduler
COPY workers /src/workers
COPY alerts /src/alerts
COPY app /src/app
COPY config /src/config
RUN /opt/newsmon/bin/pip install --no-deps /src && /opt/newsmon/bin/pip check

FROM ${BASE_IMAGE}
COPY --from=build /opt/newsmon /opt/newsmon
COPY config /app/config
# a user of its own (numeric, so the base image needs no useradd); its data and outbox on a volume
RUN mkdir -p /data/outbox && chown -R 10001:10001 /data
ENV PATH=/opt/newsmon/bin:$PATH \
    HOME=/data \
    PYTHONUNBUFFERED=1 \
    NEWSMON_CONFIG_DIR=/app/config \
    NEWSMON_DATA_DIR=/data \
    NEWSMON_HEALTH_FILE=/tmp/newsmon.health
VOLUME /data
USER 10001:10001
WORKDIR /data
# each role writes its heartbeat to NEWSMON_HEALTH_FILE when it reached Redis (the web its /healthz address);
# `newsmon healthcheck` reads it: a worker, crawler or scheduler silent for 30-45 s is unhealthy
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 CMD ["newsmon", "healthcheck"]
ENTRYPOINT ["newsmon"]
CMD ["--help"]
