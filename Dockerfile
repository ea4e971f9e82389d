# The image compose.yaml builds for the web server and the workers.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends gcc g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY backend backend
COPY workers workers
COPY migrations migrations
COPY frontend_templates frontend_templates
# torch first and pinned; on a GPU node pick the CUDA build of the same version instead.
RUN pip install --no-cache-dir torch==2.13.0 \
 && pip install --no-cache-dir -c constraints.txt -e .
ENV LABELWISE_HOST=0.0.0.0
EXPOSE 8000
CMD ["labelwise", "serve"]
