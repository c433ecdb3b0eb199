# The real servers switchboard's integration tests talk to: PostgreSQL, moto (Kinesis,
# DynamoDB, SQS, S3...), kinesalite and dynalite, with boto3 as the producer. Sourced by
# scripts/test.sh; by hand:
#
#   source scripts/servers.sh && install_servers && start_servers   # exports the URLs
#   cargo test ...                                                  # in the same shell
#   stop_servers
#
# install_servers is idempotent: PostgreSQL from Debian (only if missing), a Python venv
# with moto, boto3 and awscli in .tools/venv, kinesalite and dynalite in .tools/servers
# (both git-ignored; their own folder, so no other npm install there prunes them).
# start_servers starts each on 127.0.0.1 on a free port, PostgreSQL as a throwaway cluster
# in a temporary folder, and exports:
#
#   SWITCHBOARD_TEST_PG_URL          postgres://switchboard:switchboard@127.0.0.1:PORT/switchboard_test
#   SWITCHBOARD_TEST_MOTO_URL        http://127.0.0.1:PORT
#   SWITCHBOARD_TEST_KINESALITE_URL  http://127.0.0.1:PORT
#   SWITCHBOARD_TEST_DYNALITE_URL    http://127.0.0.1:PORT
#   SWITCHBOARD_TEST_PYTHON          the venv's python, with boto3
#
# and dummy AWS credentials and region for the SDKs. stop_servers stops them and removes
# the temporary folder (scripts/test.sh calls it from an EXIT trap).

SERVERS_TOOLS="${SERVERS_TOOLS:-$PWD/.tools}"
SERVERS_TMP=""
SERVERS_PIDS=()
SERVERS_PG_BIN=""

servers_log() { printf '    %s\n' "$*"; }

# apt-get as root, or with sudo when there is one; otherwise ask for the package.
servers_apt() {
  local runner=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then runner=(sudo); else
      echo "please install the Debian packages: $*" >&2
      return 1
    fi
  fi
  if [ -z "${SERVERS_APT_UPDATED:-}" ]; then
    "${runner[@]}" apt-get update -qq
    SERVERS_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive "${runner[@]}" apt-get install -y -qq "$@" >/dev/null
}

# The newest PostgreSQL server's bin folder (Debian puts each version under its own).
servers_pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/postgres" ] && echo "$d"
}

install_servers() {
  mkdir -p "$SERVERS_TOOLS"
  if ! servers_pg_bin >/dev/null; then
    servers_log "installing PostgreSQL (Debian)"
    servers_apt postgresql
  fi
  SERVERS_PG_BIN=$(servers_pg_bin)

  local venv="$SERVERS_TOOLS/venv"
  if ! "$venv/bin/python" -c 'import boto3, moto, flask' 2>/dev/null \
      || [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/aws" ]; then
    servers_log "installing moto[server], boto3 and awscli into $venv"
    if ! python3 -m venv "$venv" 2>/dev/null; then
      servers_apt python3-venv
      python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check 'moto[server]' boto3 awscli
  fi

  local npmdir="$SERVERS_TOOLS/servers"
  if [ ! -f "$npmdir/node_modules/kinesalite/index.js" ] \
      || [ ! -f "$npmdir/node_modules/dynalite/index.js" ]; then
    if ! command -v npm >/dev/null; then servers_apt nodejs npm; fi
    # dynalite 4 wants Node 20; Debian's own Node is 18.
    local dynalite=dynalite@4
    [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || dynalite=dynalite@3
    servers_log "installing kinesalite and $dynalite into $npmdir"
    mkdir -p "$npmdir"
    [ -f "$npmdir/package.json" ] || echo '{"private": true}' >"$npmdir/package.json"
    (cd "$npmdir" && npm install --silent --no-audit --no-fund kinesalite@3 "$dynalite")
  fi
}

# A TCP port free on 127.0.0.1 right now.
servers_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something accepts connections on 127.0.0.1:$1 (at most 60 s).
servers_wait_port() {
  local port=$1 name=$2 i
  for i in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$name did not start listening on 127.0.0.1:$port; its log:" >&2
  cat "$SERVERS_TMP/$name.log" >&2 2>/dev/null
  return 1
}

# Runs a command as the PostgreSQL owner: the postgres user when we are root (the server
# refuses to run as root), ourselves otherwise.
servers_as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

servers_start_pg() {
  local data="$SERVERS_TMP/pg" port
  port=$(servers_free_port)
  mkdir -p "$data"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$SERVERS_TMP" "$data"; fi
  chmod 755 "$SERVERS_TMP"
  servers_as_pg "$SERVERS_PG_BIN/initdb" -D "$data" -U postgres -E UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 >"$SERVERS_TMP/initdb.log" 2>&1 || {
    cat "$SERVERS_TMP/initdb.log" >&2
    return 1
  }
  # A throwaway cluster: durability off, for speed.
  servers_as_pg "$SERVERS_PG_BIN/pg_ctl" -D "$data" -l "$SERVERS_TMP/postgresql.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $SERVERS_TMP -c max_connections=300 \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null || {
    cat "$SERVERS_TMP/postgresql.log" >&2
    return 1
  }
  servers_as_pg "$SERVERS_PG_BIN/psql" -q -h "$SERVERS_TMP" -p "$port" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE switchboard LOGIN PASSWORD 'switchboard'" \
    -c "CREATE DATABASE switchboard_test OWNER switchboard" >/dev/null
  export SWITCHBOARD_TEST_PG_URL="postgres://switchboard:switchboard@127.0.0.1:$port/switchboard_test"
  servers_log "PostgreSQL $("$SERVERS_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

# Starts "$@" in the background with its output in $SERVERS_TMP/$name.log.
servers_spawn() {
  local name=$1
  shift
  "$@" >"$SERVERS_TMP/$name.log" 2>&1 &
  SERVERS_PIDS+=($!)
}

start_servers() {
  [ -n "$SERVERS_PG_BIN" ] || SERVERS_PG_BIN=$(servers_pg_bin)
  SERVERS_TMP=$(mktemp -d /tmp/switchboard-servers.XXXXXX)
  servers_start_pg

  local port
  port=$(servers_free_port)
  servers_spawn moto "$SERVERS_TOOLS/venv/bin/moto_server" -H 127.0.0.1 -p "$port"
  servers_wait_port "$port" moto
  export SWITCHBOARD_TEST_MOTO_URL="http://127.0.0.1:$port"
  servers_log "moto on 127.0.0.1:$port"

  # kinesalite's command line listens on every address: start it through its library.
  # Its default limit of 10 open shards per account is shared by every test's streams.
  port=$(servers_free_port)
  servers_spawn kinesalite node -e \
    'require(process.argv[1])({shardLimit: 1000}).listen(+process.argv[2], "127.0.0.1")' \
    "$SERVERS_TOOLS/servers/node_modules/kinesalite" "$port"
  servers_wait_port "$port" kinesalite
  export SWITCHBOARD_TEST_KINESALITE_URL="http://127.0.0.1:$port"
  servers_log "kinesalite on 127.0.0.1:$port"

  port=$(servers_free_port)
  servers_spawn dynalite node "$SERVERS_TOOLS/servers/node_modules/dynalite/cli.js" \
    --host 127.0.0.1 --port "$port"
  servers_wait_port "$port" dynalite
  export SWITCHBOARD_TEST_DYNALITE_URL="http://127.0.0.1:$port"
  servers_log "dynalite on 127.0.0.1:$port"

  export SWITCHBOARD_TEST_PYTHON="$SERVERS_TOOLS/venv/bin/python"
  # Local servers take any credentials; the SDKs and boto3 still want some.
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-$AWS_REGION}"
}

stop_servers() {
  local pid
  for pid in "${SERVERS_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${SERVERS_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  SERVERS_PIDS=()
  if [ -n "$SERVERS_TMP" ] && [ -d "$SERVERS_TMP/pg" ]; then
    servers_as_pg "$SERVERS_PG_BIN/pg_ctl" -D "$SERVERS_TMP/pg" -m immediate -w stop \
      >/dev/null 2>&1 || true
  fi
  if [ -n "$SERVERS_TMP" ]; then rm -rf "$SERVERS_TMP"; fi
  SERVERS_TMP=""
}
