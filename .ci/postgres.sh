#!/usr/bin/env bash
# A local PostgreSQL for the tests: installs Debian's `postgresql` when missing, starts its
# cluster, and makes sure role cape (password cape, CREATEDB) exists. Prints the admin URL on
# stdout and nothing else, so a caller can write
#   export CAPE_TEST_PG_URL="$(bash .ci/postgres.sh)"
# Idempotent: when all of it is in place already, it is one psql connection.
# Runs as root (CI and this machine do); set-up goes through the postgres OS user, the tests
# connect over TCP with a password (node-postgres cannot use the socket when USER is unset).
set -euo pipefail

ROLE=cape
PASSWORD=cape
HOST=127.0.0.1

log() { echo "postgres.sh: $*" >&2; }

cluster() { pg_lsclusters --no-header 2>/dev/null | sort -V | tail -n 1; }

if ! command -v pg_lsclusters >/dev/null || [ -z "$(cluster)" ]; then
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >/dev/null
  fi
  if [ -z "$(cluster)" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    log "creating cluster $version/main"
    pg_createcluster "$version" main >/dev/null
  fi
fi

read -r version name port status _ <<<"$(cluster)"
url="postgres://$ROLE:$PASSWORD@$HOST:$port/postgres"

# Test files run two at a time, each with issuers and servers that hold a pool of connections:
# PostgreSQL's default 100 can run out, and a test would read that as an outage.
CONNECTIONS=300
enough_connections() {
  local max
  max=$(PGPASSWORD=$PASSWORD psql -h "$HOST" -p "$port" -U "$ROLE" -d postgres -Atqc 'SHOW max_connections')
  if [ "$max" -lt "$CONNECTIONS" ]; then
    log "raising max_connections from $max to $CONNECTIONS (restarts cluster $version/$name)"
    runuser -u postgres -- psql -p "$port" -qXc "ALTER SYSTEM SET max_connections = $CONNECTIONS" >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" "$name" restart >&2
    for _ in $(seq 1 60); do
      pg_isready -q -h "$HOST" -p "$port" && break
      sleep 0.5
    done
  fi
}

# The quick path: everything is up already.
if PGPASSWORD=$PASSWORD PGCONNECT_TIMEOUT=3 psql -h "$HOST" -p "$port" -U "$ROLE" -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
  enough_connections
  echo "$url"
  exit 0
fi

if [ "$status" != online ]; then
  log "starting cluster $version/$name on port $port"
  pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start >&2
fi

for _ in $(seq 1 60); do
  pg_isready -q -h "$HOST" -p "$port" && break
  sleep 0.5
done
pg_isready -q -h "$HOST" -p "$port" || { log "cluster $version/$name does not answer on $HOST:$port"; exit 1; }

# Created, or its password and rights put back, so a machine set up by hand ends up the same.
runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qX >/dev/null <<SQL
SELECT format('CREATE ROLE %I', '$ROLE') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE')
\gexec
ALTER ROLE $ROLE WITH LOGIN CREATEDB PASSWORD '$PASSWORD';
SQL

PGPASSWORD=$PASSWORD psql -h "$HOST" -p "$port" -U "$ROLE" -d postgres -Atqc 'SELECT 1' >/dev/null
enough_connections
echo "$url"
