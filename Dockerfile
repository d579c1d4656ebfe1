# The serinus image: the CLI, the operator (`serinus operator`) and the REST API/dashboard.
#   docker build -t serinus:0.1.0 .
#   docker run --rm serinus:0.1.0 --help
# Two stages: the wheel is built with the build tools, the runtime image only installs it.
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.2.2
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m build --wheel --outdir /dist

FROM python:3.11.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /dist /dist
RUN wheel="$(ls /dist/serinus-*.whl)" \
    && pip install "${wheel}[kubernetes,api]" \
    && rm -rf /dist
# A fixed numeric user, so Kubernetes' runAsNonRoot can verify it without a name lookup.
RUN groupadd --system --gid 10001 serinus \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --shell /usr/sbin/nologin serinus
USER 10001:10001
ENV HOME=/tmp SERINUS_STATE_DIR=/tmp/serinus
WORKDIR /tmp
EXPOSE 8080 8686
ENTRYPOINT ["serinus"]
CMD ["--help"]
