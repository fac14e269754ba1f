#!/usr/bin/env bash
# Stand-in for the official postgres image's entrypoint: as root, read POSTGRES_PASSWORD_FILE
# (the official `file_env`: exclusive with POSTGRES_PASSWORD), prepare the folders and drop
# to the postgres user; on an empty $PGDATA run initdb with POSTGRES_USER/POSTGRES_PASSWORD,
# allow password (scram) logins from the network, create POSTGRES_DB; then run the server.
set -Eeuo pipefail
if [[ "${1:-}" != postgres ]]; then exec "$@"; fi
if [[ -n "${POSTGRES_PASSWORD_FILE:-}" ]]; then
  if [[ -n "${POSTGRES_PASSWORD:-}" ]]; then
    echo "error: both POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are set (but are exclusive)" >&2
    exit 1
  fi
  POSTGRES_PASSWORD="$(< "$POSTGRES_PASSWORD_FILE")"
  export POSTGRES_PASSWORD
  unset POSTGRES_PASSWORD_FILE
fi
if [[ "$(id -u)" == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
user="${POSTGRES_USER:-postgres}"
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  if [[ -z "${POSTGRES_PASSWORD:-}" ]]; then
    echo "Error: Database is uninitialized and superuser password is not specified." >&2
    echo "       You must specify POSTGRES_PASSWORD to a non-empty value for the superuser." >&2
    exit 1
  fi
  initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 -D "$PGDATA"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  db="${POSTGRES_DB:-$user}"
  if [[ "$db" != postgres ]]; then
    printf 'CREATE DATABASE "%s";\n' "${db//\"/\"\"}" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo "PostgreSQL init process complete; ready for start up."
fi
shift
exec postgres -D "$PGDATA" "$@"
