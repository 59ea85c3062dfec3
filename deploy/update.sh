#!/usr/bin/env bash
# Rolls the running compose stack to the image that MIZUAL_IMAGE names (in .env, or in the
# environment), with no downtime: the schema first (`mizual migrate` from the new image), then
# the API replicas one at a time — the old one drains (its /health answers 503 so the proxy
# stops sending to it, in-flight requests finish) while the other serves, the new one must be
# healthy before the next — then the worker with a warm shutdown (edits in hand finish; queued
# ones wait in Redis). Last, the proxy must answer /health and every replica the new version,
# and `mizual doctor` must pass. Rolling back is the same with the old image. docs/deployment.md.
#
# Usage: deploy/update.sh        (no arguments; COMPOSE="docker compose" or "podman-compose"
#                                 picks the tool, otherwise whichever runs here)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "update: $*"; }
die() { echo "update: $*" >&2; exit 1; }

# The value a variable has for compose: the environment first, then .env.
setting() {
  local name=$1 default=${2:-}
  if [ -n "${!name:-}" ]; then echo "${!name}"; return; fi
  local line
  line=$(grep -E "^${name}=" .env 2>/dev/null | tail -n 1 || true)
  line=${line#*=}
  line=${line%\"}; line=${line#\"}; line=${line%\'}; line=${line#\'}
  echo "${line:-$default}"
}

[ -f compose.yaml ] || die "no compose.yaml in $(pwd)"
[ -f .env ] || die "no .env here: cp .env.example .env and edit it"

if [ -n "${COMPOSE:-}" ]; then
  read -r -a compose_cmd <<<"$COMPOSE"
elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 \
    && docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif command -v podman-compose >/dev/null 2>&1; then
  compose_cmd=(podman-compose)
else
  die "neither docker compose (with a running Docker engine) nor podman-compose is available"
fi
case $(basename "${compose_cmd[0]}") in
  podman-compose | podman) engine=podman ;;
  *) engine=docker ;;
esac
compose() { "${compose_cmd[@]}" "$@"; }

image=$(setting MIZUAL_IMAGE localhost/mizual:latest)
project=$(setting COMPOSE_PROJECT_NAME mizual)
port=$(setting HTTP_PORT 8080)
proxy="http://127.0.0.1:${port}"
"$engine" image inspect "$image" >/dev/null 2>&1 || "$engine" pull -q "$image" >/dev/null \
  || die "image $image is not here and cannot be pulled (make image builds it)"
image_id=$("$engine" image inspect --format '{{.Id}}' "$image")
revision=$("$engine" image inspect \
  --format '{{index .Config.Labels "org.opencontainers.image.revision"}}' "$image")
say "rolling project $project to $image (${image_id:0:12}, commit ${revision:-unknown})"

container_of() {
  "$engine" ps -q --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=$1" | head -n 1
}

healthy() {
  if [ "$engine" = podman ]; then
    # podman here runs no healthcheck timers (they need systemd): run the check itself.
    podman healthcheck run "$1" >/dev/null 2>&1
  else
    [ "$(docker inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null)" = healthy ]
  fi
}

wait_until_healthy() {
  local service=$1 deadline=$((SECONDS + ${2:-180})) id=""
  while [ $SECONDS -lt $deadline ]; do
    id=$(container_of "$service")
    if [ -n "$id" ] && [ "$("$engine" inspect --format '{{.Image}}' "$id")" = "$image_id" ] \
        && healthy "$id"; then
      return 0
    fi
    sleep 1
  done
  die "$service did not become healthy on the new image; its log: $engine logs $id"
}

say "migrating the schema"
compose run --rm migrate >/dev/null || die "mizual migrate failed; nothing was replaced"

for service in api1 api2; do
  start=$SECONDS
  say "replacing $service (the other replica serves meanwhile)"
  compose up -d --no-deps --force-recreate "$service" >/dev/null
  wait_until_healthy "$service"
  # The proxy checks /health every second: let it see the new replica before the next goes.
  sleep 2
  say "$service healthy on the new image in $((SECONDS - start)) s"
done

start=$SECONDS
say "replacing the worker (warm shutdown: its edits in hand finish first)"
compose up -d --no-deps --force-recreate worker >/dev/null
wait_until_healthy worker 600
say "worker healthy on the new image in $((SECONDS - start)) s"

say "checking the stack through the proxy at $proxy"
curl -fsS --max-time 10 "$proxy/health" >/dev/null || die "$proxy/health does not answer 200"
if [ -n "$revision" ] && [ "$revision" != unknown ]; then
  for _ in 1 2 3 4 5 6; do  # round robin: each replica answers several times
    commit=$(curl -fsS --max-time 10 "$proxy/version" | python3 -c \
      'import json, sys; print(json.load(sys.stdin)["git_commit"])')
    [ "$commit" = "$revision" ] || die "/version answered commit $commit, not $revision"
  done
fi
"$engine" exec "$(container_of worker)" mizual doctor --api http://proxy:8080 \
  || die "mizual doctor found a problem (above)"
say "done in ${SECONDS} s: every replica and the worker run $image"
