# The batch-video image: the code location (gRPC server for the Dagster webserver and daemon)
# and the run workers (Kubernetes Jobs started by K8sRunLauncher, or `celery -A dagster_project.run_worker worker`).
#   docker build -t registry.example.com/batch-video:$(git rev-parse --short HEAD) .
# See deploy/kubernetes/values.yaml and README "Scaling out".
FROM python:3.11-slim-bookworm

# ffmpeg renders, espeak-ng speaks offline, DejaVu has the Romanian diacritics.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg espeak-ng fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/batch-video
COPY pyproject.toml README.md workspace.yaml ./
COPY batch_video ./batch_video
COPY dagster_project ./dagster_project
RUN pip install --no-cache-dir ".[cluster]" "dagster-k8s==0.29.27"

ENV BATCH_VIDEO_DATA_DIR=/var/lib/batch-video/data \
    BATCH_VIDEO_TTS_PROVIDER=auto \
    DAGSTER_HOME=/opt/dagster/dagster_home
RUN mkdir -p "$BATCH_VIDEO_DATA_DIR" "$DAGSTER_HOME" && useradd --system --home /var/lib/batch-video batchvideo \
    && chown -R batchvideo /var/lib/batch-video "$DAGSTER_HOME"
USER batchvideo

# The Helm chart's user-deployment runs the code server with this command.
EXPOSE 3030
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "3030", "-m", "dagster_project.definitions"]
