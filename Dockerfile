# One image for every role of Mizual: `mizual serve` (embedded, the default command),
# `mizual api`, `mizual worker` and `mizual migrate` (distributed). docs/deployment.md.
#
#   docker build -t mizual .                                     # Docker: pulls the base
#   podman build --format docker --pull=never -t mizual .        # podman here: `make image`
ARG BASE_IMAGE=debian:bookworm-slim

# --- build: the project's wheel and its runtime dependencies in /opt/venv ------------------
FROM ${BASE_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv binutils gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install -q --upgrade pip
# Dependencies before the source: editing Mizual's code does not reinstall them.
# (An empty package of the same metadata, built elsewhere: its build files must not mix with
# the real one's.)
COPY pyproject.toml README.md /deps/
RUN mkdir -p /deps/src/mizual && touch /deps/src/mizual/__init__.py \
 && /opt/venv/bin/pip install -q /deps && /opt/venv/bin/pip uninstall -q -y mizual \
 && rm -rf /deps
COPY pyproject.toml README.md /src/
COPY src /src/src
RUN /opt/venv/bin/pip wheel -q --no-deps -w /wheels /src \
 && /opt/venv/bin/pip install -q --no-deps /wheels/mizual-*.whl
# slim.sh removes what Mizual never loads; opencv_stubs.py (which it runs, with gcc) replaces
# OpenCV's video, AVIF and LAPACK libraries with stubs.
COPY deploy/image/slim.sh deploy/image/opencv_stubs.py deploy/image/prune_libs.py \
     deploy/image/system_libs.py /tmp/image/
RUN sh /tmp/image/slim.sh /opt/venv

# --- the image --------------------------------------------------------------------------
FROM ${BASE_IMAGE}
# Debian compiles the whole standard library on install (13 MB of bytecode): removed here, in
# the layer that adds it, and written again below for the modules Mizual imports. pydoc's
# topics and the regression-test support are never used.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
      /usr/share/doc/* /usr/share/man/* /usr/share/locale/* /usr/share/info/* \
      /usr/lib/python3.*/pydoc_data /usr/lib/python3.*/test \
      /usr/lib/python3.*/lib-dynload/_test*.so /usr/lib/python3.*/lib-dynload/xxlimited*.so \
 && find /usr/lib/python3* -depth -type d -name __pycache__ -exec rm -rf {} + \
 && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin mizual \
 && mkdir -p /data && chown mizual:mizual /data
COPY --from=build /opt/venv /opt/venv
COPY deploy/image/healthcheck.py deploy/image/smoke.py /opt/mizual/
# The smoke test, as root: every module a role imports, each OpenCV function Mizual calls, the
# offline editor on eight prompts, and `mizual serve` answering two edits over HTTP. A removal
# by slim.sh that broke something (or a call into an OpenCV stub) fails the build here. It
# also writes the bytecode of exactly the modules it loaded (the running user cannot write
# here; anything else is compiled in memory if it is ever imported): about 35 MB. Compiling
# everything would be 67 MB for a start 0.03-0.3 s faster; no bytecode at all would make
# `import mizual.app` take 3.5 s instead of 1.2 s.
RUN /opt/venv/bin/python /opt/mizual/smoke.py --serve \
 && rm -rf /tmp/* /root/.cache

ARG GIT_COMMIT=unknown
LABEL org.opencontainers.image.title="Mizual" \
      org.opencontainers.image.source="https://github.com/mizual/mizual" \
      org.opencontainers.image.revision="${GIT_COMMIT}"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=10000 \
    DATA_DIR=/data \
    GIT_COMMIT=${GIT_COMMIT}
USER mizual
WORKDIR /data
VOLUME ["/data"]
EXPOSE 10000
# tini is PID 1: it passes SIGTERM on to Mizual (a PID 1 without handlers would ignore it) and
# reaps what exits.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["mizual", "serve"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python3", "/opt/mizual/healthcheck.py"]
