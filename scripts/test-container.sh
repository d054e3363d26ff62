#!/usr/bin/env bash
# Builds the container image with podman (docker/Dockerfile) and runs it
# first against a throwaway PostgreSQL on the host, then (unless
# --host-only) as the compose topology of docker/compose.yaml. On the host: waits for the image's
# HEALTHCHECK to pass, checks it runs as the non-root user on a read-only
# root filesystem, makes a model call with the CLI inside the image and
# finds the row in PostgreSQL, then stops it with SIGTERM (graceful exit 0).
# In compose: both replicas SERVING through the bastion, PostgreSQL not
# reachable from their network, a write through one seen through the other.
# Removes the containers, images, volumes and the database it made; keeps the base
# image (localhost/chatgenius-base:bookworm, made from Debian's packages by
# scripts/container-base.sh) and podman's build cache, like a pulled base
# image. Prints image size and start-up time. Needs root.
#   IMAGE=...      tag to build (default localhost/chatgenius-db:test)
#   KEEP_IMAGE=1   keep the built image
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

install_packages build run container
IMAGE=${IMAGE:-localhost/chatgenius-db:test}
export BASE_IMAGE=${BASE_IMAGE:-localhost/chatgenius-base:bookworm}

work=$(mktemp -d /tmp/chatgenius-container-XXXXXX)
chmod 755 "$work"
# podman needs runc and these limits here (README \"Container and deployment\").
if [ -z "${CONTAINERS_CONF:-}" ]; then
  cat >"$work/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
CONF
  export CONTAINERS_CONF=$work/containers.conf
fi
container=chatgenius-db-test-$$
cleanup() {
  podman rm -f -t 0 "$container" >/dev/null 2>&1 || true
  [ "${KEEP_IMAGE:-0}" = 1 ] || podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
  stop_postgres "$work/pg"
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
check() {  # check NAME COMMAND...: one counted assertion
  local name=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    log "ok: $name"
  else
    failed=$((failed + 1))
    log "FAILED: $name"
  fi
}

bash scripts/container-base.sh
log "building $IMAGE (base $BASE_IMAGE)"
build_start=$(date +%s)
podman build --format docker --network=host --build-arg BASE_IMAGE="$BASE_IMAGE" \
  -f docker/Dockerfile -t "$IMAGE" . >"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log"; log "image build failed"; exit 1; }
build_s=$(($(date +%s) - build_start))
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
log "built in ${build_s}s; image size $((size / 1024 / 1024)) MiB"

start_private_postgres "$work/pg"
psql -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -qc "CREATE DATABASE chatgenius"
grpc_port=$(free_port)

# Host networking: the container reaches the host's PostgreSQL on loopback
# and serves on loopback. Read-only root filesystem with a tmpfs /tmp, as
# in deploy/k8s.
start_ns=$(date +%s%N)
podman run -d --name "$container" --network=host --read-only --tmpfs /tmp \
  -e LISTEN_ADDRESS=127.0.0.1:$grpc_port -e CHATGENIUS_DB_TARGET=127.0.0.1:$grpc_port \
  -e POSTGRES_HOST=127.0.0.1 -e POSTGRES_PORT="$pg_port" -e POSTGRES_DB=chatgenius \
  -e POSTGRES_SSLMODE=disable -e SHUTDOWN_DRAIN_MS=500 -e LOG_FORMAT=json \
  "$IMAGE" >/dev/null
healthy=""
for _ in $(seq 1 300); do
  if podman healthcheck run "$container" >/dev/null 2>&1; then
    healthy=1
    break
  fi
  sleep 0.1
done
startup_ms=$((($(date +%s%N) - start_ns) / 1000000))
check "HEALTHCHECK passes (SERVING) after ${startup_ms} ms" test -n "$healthy"
[ -n "$healthy" ] || { podman logs "$container" | tail -30; exit 1; }
check "runs as uid 10001, not root" test "$(podman exec "$container" id -u)" = 10001
check "root filesystem is read-only" \
  bash -c "! podman exec $container touch /usr/local/bin/x 2>/dev/null"
check "logs are JSON lines" \
  bash -c "podman logs $container 2>&1 | head -1 | grep -q '^{\"ts\":'"
created=$(podman exec "$container" chatgenius-db --json create-user --username=containeruser \
  --email=container@example.com --display_name=Container)
check "model call through the CLI in the image" grep -q '"username":"containeruser"' <<<"$created"
check "the row is in PostgreSQL" test "$(psql -h 127.0.0.1 -p "$pg_port" -U postgres -d chatgenius \
  -tAc "SELECT count(*) FROM users WHERE username = 'containeruser'")" = 1
podman stop -t 20 "$container" >/dev/null
check "SIGTERM: graceful exit 0" \
  test "$(podman inspect --format '{{.State.ExitCode}}' "$container")" = 0

podman rm -f -t 0 "$container" >/dev/null

# The compose topology (docker/compose.yaml): PostgreSQL behind an SSH
# bastion, two replicas tunnelling to it. Skipped with --host-only.
if [ "${1:-}" != --host-only ]; then
  project=chatgenius-test-$$
  compose() { (cd docker && podman-compose -p "$project" -f compose.yaml "$@"); }
  compose_cleanup() {
    compose down -v >/dev/null 2>&1 || true
    # podman-compose 1.0.3 leaves the project's networks behind when a
    # container never started; remove them by name.
    podman network ls --format '{{.Name}}' 2>/dev/null | grep "^${project}_" |
      xargs -r podman network rm -f >/dev/null 2>&1 || true
    [ "${KEEP_IMAGE:-0}" = 1 ] || podman rmi -f localhost/chatgenius-db:compose \
      localhost/chatgenius-bastion:latest localhost/chatgenius-postgres:15 >/dev/null 2>&1 || true
  }
  trap 'compose_cleanup; cleanup' EXIT
  bash scripts/compose-secrets.sh >/dev/null
  log "compose: building and starting postgres, bastion, db-1, db-2"
  compose_start=$(date +%s)
  compose --podman-build-args="--format docker --network=host" up -d --build \
    >"$work/compose.log" 2>&1 || { tail -30 "$work/compose.log"; log "compose up failed"; exit 1; }
  db1=${project}_db-1_1
  db2=${project}_db-2_1
  # A container podman could not start (e.g. its network backend failed)
  # stays "created" and logs nothing: say why at once instead of waiting.
  stuck_start() {
    local name state stuck=""
    while read -r name state; do
      [ "${state,,}" = created ] || continue
      stuck=1
      log "compose: $name did not start:"
      podman start "$name" 2>&1 | tail -5 >&2 || true
      podman inspect --format '  state error: {{.State.Error}}' "$name" >&2 2>/dev/null || true
    done < <(podman ps -a --filter "label=io.podman.compose.project=$project" \
      --format '{{.Names}} {{.State}}' 2>/dev/null)
    [ -n "$stuck" ]
  }
  serving=""
  for i in $(seq 1 240); do
    if [ $((i % 10)) = 1 ] && stuck_start; then
      check "compose: every container started" false
      exit 1
    fi
    if podman exec "$db1" chatgenius-db health >/dev/null 2>&1 &&
      podman exec "$db2" chatgenius-db health >/dev/null 2>&1; then
      serving=1
      break
    fi
    sleep 0.5
  done
  log "compose up to both replicas SERVING: $(($(date +%s) - compose_start))s"
  check "compose: both replicas SERVING" test -n "$serving"
  [ -n "$serving" ] || { compose logs 2>&1 | tail -40; exit 1; }
  # TLS and bearer tokens (docker/secrets, from compose-secrets.sh): the
  # operator token for the CLI calls below.
  ops=(-e "CHATGENIUS_DB_TOKEN=$(cat docker/secrets/client_token)")
  check "compose: replicas reach PostgreSQL through the bastion" \
    bash -c "podman exec ${ops[*]} $db1 chatgenius-db --json tunnel status | grep -q '\"sshTarget\":\"tunnel@bastion:22\"'"
  check "compose: a call without a token is UNAUTHENTICATED" \
    bash -c "podman exec $db1 chatgenius-db server info 2>&1 | grep -q UNAUTHENTICATED"
  check "compose: plaintext is refused (TLS only)" \
    bash -c "! podman exec ${ops[*]} -e CHATGENIUS_DB_CA_FILE= $db1 chatgenius-db server info >/dev/null 2>&1"
  check "compose: PostgreSQL is not reachable from the replicas' network" \
    bash -c "! podman exec $db1 bash -c 'exec 3<>/dev/tcp/postgres/5432' 2>/dev/null"
  check "compose: PostgreSQL publishes no port" \
    test -z "$(podman port "${project}_postgres_1" 2>/dev/null)"
  podman exec "${ops[@]}" "$db1" chatgenius-db create-user --username=viaone \
    --email=one@example.com >/dev/null 2>&1
  again=$(podman exec "${ops[@]}" "$db2" chatgenius-db create-user --username=viaone \
    --email=one@example.com 2>&1 || true)
  check "compose: a write through db-1 is seen through db-2" grep -q ALREADY_EXISTS <<<"$again"
fi

echo "image: $IMAGE, $((size / 1024 / 1024)) MiB; build ${build_s}s; start to SERVING ${startup_ms} ms"
echo "container: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
