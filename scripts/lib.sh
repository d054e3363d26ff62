# Shared by scripts/run.sh and scripts/test.sh (sourced, not run).
# Installs the packages of scripts/packages.txt and manages a private
# PostgreSQL cluster.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

# install_packages [SECTION...] installs whatever in the named sections of
# scripts/packages.txt is missing (default: build run test).
install_packages() {
  local sections=("$@")
  [ ${#sections[@]} -gt 0 ] || sections=(build run test)
  local missing=() line cmd pkg section="" wanted
  while read -r line; do
    case "$line" in
      '' | '#'*) continue ;;
      '['*']')
        section=${line#[}
        section=${section%]}
        continue
        ;;
    esac
    wanted=""
    for s in "${sections[@]}"; do [ "$s" = "$section" ] && wanted=1; done
    [ -n "$wanted" ] || continue
    case "$line" in
      command:*)
        cmd=${line#command:}
        pkg=${cmd#* }
        cmd=${cmd%% *}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
        ;;
      *)
        dpkg-query -W -f='${Status}' "$line" 2>/dev/null | grep -q 'install ok installed' ||
          missing+=("$line")
        ;;
    esac
  done <"$(dirname "${BASH_SOURCE[0]}")/packages.txt"
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  log "installing missing packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# free_port prints a TCP port on 127.0.0.1 that nothing listens on, below
# the kernel's ephemeral range (32768 by default), so an outgoing connection
# cannot take it between this check and the server's bind.
free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  log "no free port found"
  return 1
}

# as_pg_owner runs a command as the cluster owner: user postgres when we are
# root (initdb refuses root), ourselves otherwise.
as_pg_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# start_postgres DIR PORT [durable] creates (if needed) and starts a
# cluster in DIR.
# - throwaway (the default, for test clusters only): trust auth on
#   127.0.0.1:PORT and fsync=off — fast, and a host crash may corrupt it,
#   which a test cluster can afford;
# - durable (scripts/run.sh's): fsync and synchronous_commit at their safe
#   defaults, no TCP listener at all, and the Unix socket (named for PORT)
#   in DIR/socket, mode 0700: only the cluster's owner (and root) can
#   connect. Clients use host=DIR/socket.
start_postgres() {
  local dir=$1 port=$2 mode=${3:-throwaway}
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
    if ! runuser -u postgres -- test -w "$dir"; then
      log "user postgres cannot write $dir (a parent directory is private); set CHATGENIUS_DATA_DIR to a path it can reach"
      return 1
    fi
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 ||
      { log "initdb failed, see $dir/initdb.log"; return 1; }
  fi
  local options="-k $dir -h 127.0.0.1 -p $port -c fsync=off"
  if [ "$mode" = durable ]; then
    mkdir -p "$dir/socket"
    [ "$(id -u)" -ne 0 ] || chown postgres "$dir/socket"
    chmod 0700 "$dir/socket"
    options="-k $dir/socket -h '' -p $port -c unix_socket_permissions=0700"
  fi
  as_pg_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
    -o "$options" start >/dev/null || {
    # The log may be deleted with a throwaway directory: show why here.
    tail -n 20 "$dir/postgres.log" >&2 2>/dev/null
    log "PostgreSQL did not start on port $port, see $dir/postgres.log"
    return 1
  }
  if [ "$mode" = durable ]; then
    log "PostgreSQL running on socket $dir/socket (port $port, durable; data in $dir/data)"
  else
    log "PostgreSQL running on 127.0.0.1:$port (throwaway, fsync off; data in $dir/data)"
  fi
}

# start_private_postgres DIR starts a throwaway cluster in DIR on a free
# loopback port and sets pg_port; if the start fails (the port taken
# meanwhile, say) it tries two more ports.
start_private_postgres() {
  local dir=$1
  for _ in 1 2 3; do
    pg_port=$(free_port) || return 1
    start_postgres "$dir" "$pg_port" && return 0
  done
  return 1
}

# stop_postgres DIR stops the cluster in DIR if it runs.
stop_postgres() {
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_pg_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}
