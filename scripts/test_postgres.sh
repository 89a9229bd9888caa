#!/usr/bin/env bash
# A PostgreSQL server for the tests, from Debian's packages: installs them if missing (as root), starts the default
# cluster, makes a role and a database for the tests, and prints their URL on stdout. Where it cannot (not root and
# no server), it says why on stderr and prints nothing: the PostgreSQL tests are then skipped with that reason.
set -euo pipefail
# The role's password is random, made on first use and kept readable by root and postgres only: a fixed one would be
# a known login on every machine that ever ran the tests.
ROLE=interviewer_test
PASSWORD_FILE=/var/lib/postgresql/interviewer_test.password
DB=interviewer_test
export APT_LOCK_WAIT_S=${APT_LOCK_WAIT_S:-600}  # scripts/apt_wait.sh waits this long for a lock

say() { echo "test_postgres: $*" >&2; }

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then say "PostgreSQL is not installed and this is not root: its tests will be skipped"; exit 0; fi
  say "installing Debian's postgresql"
  bash "$(dirname "$0")/apt_wait.sh" update -qq >&2
  DEBIAN_FRONTEND=noninteractive bash "$(dirname "$0")/apt_wait.sh" install -y -qq postgresql >/dev/null
fi
if [ "$(id -u)" != 0 ] && [ "$(id -un)" != postgres ]; then
  say "starting a cluster needs root: its tests will be skipped (or set INTERVIEWER_TEST_DATABASE_URL)"; exit 0
fi
as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }

read -r VERSION CLUSTER PORT STATUS _ < <(pg_lsclusters -h | head -1) || true
if [ -z "${VERSION:-}" ]; then
  VERSION=$(ls /usr/lib/postgresql | sort -V | tail -1); CLUSTER=main
  pg_createcluster "$VERSION" "$CLUSTER" >&2
  read -r VERSION CLUSTER PORT STATUS _ < <(pg_lsclusters -h | head -1)
fi
if [ "$STATUS" != online ]; then pg_ctlcluster "$VERSION" "$CLUSTER" start >&2; fi

psql_admin() { as_postgres psql -p "$PORT" -v ON_ERROR_STOP=1 -qtAc "$1"; }
if [ ! -s "$PASSWORD_FILE" ]; then  # hex: nothing to quote in SQL or in a URL
  (umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > "$PASSWORD_FILE")
  chown postgres: "$PASSWORD_FILE" 2>/dev/null || true
  NEW_PASSWORD=1
fi
PASSWORD=$(cat "$PASSWORD_FILE")
if [ -z "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='$ROLE'")" ]; then
  psql_admin "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" >&2
elif [ -n "${NEW_PASSWORD:-}" ]; then  # a role left by an earlier version of this script, with its fixed password
  psql_admin "ALTER ROLE $ROLE PASSWORD '$PASSWORD'" >&2
fi
if [ -z "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='$DB'")" ]; then
  psql_admin "CREATE DATABASE $DB OWNER $ROLE" >&2
fi
echo "postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
