# The NER service, two images from one file:
#   docker build -t ner-service .                        full: PyTorch (GPUs; the fastest in steady state)
#   docker build --target slim -t ner-service:slim .     slim: no PyTorch, the numpy backend, same answers
#   docker run -p 8000:8000 ner-service

# ---- code: the package installed into a folder of its own, which the images copy (the sources and
# the model's copy in the build context stay in this stage, not in a layer of the images) ----
FROM python:3.11-slim AS code
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY ner/ ner/
COPY app/ app/
COPY models/ models/
RUN pip install --no-deps --target /opt/ner .

# ---- slim: the service without PyTorch (the numpy backend computes the same model) ----
FROM python:3.11-slim AS slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv
# Dependencies first, in their own cached layer: code changes don't reinstall them. Only the service's,
# and not PyTorch or pytorch-crf (the full image adds them); the GloVe vectors and pyarrow are for
# training (the 'train' extra).
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
      print('\n'.join(d for d in deps if not d.startswith(('torch', 'pytorch-crf'))))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt
# The code and the default model (inside the package, found wherever it is installed).
COPY --from=code /opt/ner /opt/ner
ENV PYTHONPATH=/opt/ner PATH=/opt/ner/bin:$PATH
RUN useradd --create-home --uid 10001 ner
USER ner
WORKDIR /home/ner
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["ner", "serve", "--host", "0.0.0.0"]

# ---- torch: PyTorch installed apart, so that no wheel file stays in a layer of the full image ----
FROM python:3.11-slim AS torch
# Which PyTorch to install. The default is the tested release, CPU build, from PyTorch's CPU wheel
# index; for a GPU image pass e.g. --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124. To
# install from wheels on disk instead, put them in ./wheels/ (sent with the build context) and pass
# --build-arg TORCH_INDEX= so that only PyPI and that folder are looked at. The wheels reach this stage
# only: the full image copies what was installed, not the wheel.
ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX="https://download.pytorch.org/whl/cpu"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY wheels/ /tmp/wheels/
# An index that cannot be reached fails the build in seconds with what to do, not after pip's retries.
RUN if [ -n "$TORCH_INDEX" ]; then python -c "import sys, urllib.request; \
      urllib.request.urlopen(sys.argv[1], timeout=15)" "$TORCH_INDEX/torch/" >/dev/null 2>&1 \
      || { echo "cannot reach TORCH_INDEX=$TORCH_INDEX: build from a wheel in ./wheels with" \
                "--build-arg TORCH_INDEX= --build-arg TORCH_SPEC=torch==2.13.0 (README, Docker)" >&2; \
           exit 1; }; fi \
 && pip install --target /opt/torch --retries 2 --timeout 30 --find-links /tmp/wheels \
      ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} "$TORCH_SPEC" "pytorch-crf>=0.7.2"

# ---- full (the default): the slim image plus PyTorch ----
FROM slim AS full
COPY --from=torch /opt/torch /opt/torch
ENV PYTHONPATH=/opt/ner:/opt/torch
