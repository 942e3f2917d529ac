# syntax=docker/dockerfile:1
# One image for the three processes of the assistant: the Rasa server, the
# action server and the gateway (docker-compose.yml picks the command). The
# model is trained while the image is built, from the project's own config,
# domain, data and custom components, which Rasa imports at run time too.

ARG PYTHON_IMAGE=python:3.10-slim-bookworm

# 1. Dependencies, pinned by requirements.lock, in a virtual environment
#    (the test tools left out).
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/venv \
 && grep -v -E '^(playwright|pytest|pytest-asyncio|hypothesis|ruff)==' /tmp/requirements.lock > /tmp/runtime.lock \
 && pip install "pip<24.1" \
 && pip install -r /tmp/runtime.lock

# 2. The model: only its inputs are copied, so that code changes elsewhere
#    reuse this layer (scripts/model.py names the model after their hash).
FROM deps AS model
WORKDIR /app
COPY config/ config/
COPY domain/ domain/
COPY data/ data/
COPY components/ components/
COPY bot/__init__.py bot/paths.py bot/
COPY bot/language/ bot/language/
COPY scripts/ scripts/
RUN python -m scripts.train

# 3. Runtime: the environment, the project (owned by root, read-only for the
#    service user) and the trained model; runs as an unprivileged user.
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 assistant \
 && useradd --system --uid 10001 --gid assistant --create-home --home-dir /home/assistant \
            --shell /usr/sbin/nologin assistant
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RASA_TELEMETRY_ENABLED=false \
    MPLCONFIGDIR=/tmp/matplotlib \
    GATEWAY_HOST=0.0.0.0
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
COPY actions/ actions/
COPY bot/ bot/
COPY components/ components/
COPY config/ config/
# The link map (link titles in the widget and Telegram), the review dates and the
# catalogue's copy (the console's content check).
COPY content/ content/
COPY data/ data/
COPY domain/ domain/
COPY locales/ locales/
COPY migrations/ migrations/
COPY scripts/ scripts/
COPY --from=model /app/models/ models/
USER assistant:assistant
EXPOSE 8000 5005 5055
# The gateway by default; docker-compose.yml runs the Rasa and action servers
# from the same image with their own commands.
CMD ["python", "-m", "bot", "serve"]
