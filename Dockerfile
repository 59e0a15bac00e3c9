# The agent service: Python 3.11 slim, dependencies from uv.lock, run as an unprivileged user.
# Its code runs in Azure's session pool (POOL_MANAGEMENT_ENDPOINT): the image carries no data
# stack, which only the local pool's sessions use (sessionpool/environment, built by make).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH

RUN pip install --no-cache-dir uv==0.13.8 \
    && useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin app

WORKDIR /app

# The lock alone decides this layer, so code changes rebuild only the layer below it.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY --chown=10001:10001 . .
RUN mkdir -p /app/data && chown 10001:10001 /app/data

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

# As `make run`: WORKERS processes (default: one per CPU of the container's quota, at most 4).
CMD ["python", "-m", "serve", "--host", "0.0.0.0", "--port", "8000"]
