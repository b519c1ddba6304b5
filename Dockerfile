FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TUNING_DB=/data/tuning.db

# The pinned dependencies first (their own layer: a code change does not reinstall TensorFlow),
# then the package itself, installed as a user installs it, with the lora extra. requirements.txt
# holds the same pins as pyproject.toml, so the second step adds nothing but the package.
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt
COPY . /tmp/src
RUN pip install "/tmp/src[lora]" && pip check && rm -rf /tmp/src /tmp/requirements.txt

WORKDIR /data
VOLUME /data
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status == 200 else 1)"

# 0.0.0.0 inside the container so the published port works; publish it on 127.0.0.1 (README).
CMD ["tuning", "dashboard", "--host", "0.0.0.0", "--port", "8501"]
