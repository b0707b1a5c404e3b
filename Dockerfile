FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY newsmon newsmon
COPY crawler crawler
COPY scheduler scheduler
COPY workers workers
COPY alerts alerts
COPY app app
COPY config config
RUN pip install --no-cache-dir .
ENV NEWSMON_CONFIG_DIR=/app/config NEWSMON_DATA_DIR=/data
ENTRYPOINT ["newsmon"]
