# ChatIQ in a container: the same `chatiq serve` as on any host (docs/deployment.md §5).
# Without DATABASE_URL it runs its embedded PostgreSQL in the /data volume; compose.yaml
# shows it with a PostgreSQL service instead.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CHATIQ_DATA_DIR=/data \
    CHATIQ_HOST=0.0.0.0 \
    PORT=8080

WORKDIR /src
COPY pyproject.toml setup.cfg README.md ./
COPY chatiq ./chatiq
COPY sql ./sql
COPY widget ./widget
COPY admin ./admin
RUN pip install . && rm -rf /src

# Never root: the data dir is the only place it writes.
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin chatiq \
    && mkdir -p /data && chown chatiq:chatiq /data
USER chatiq
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

# /healthz is 200 once the database answers and every migration is applied.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/healthz', timeout=4)"]

CMD ["chatiq", "serve"]
