#!/bin/sh
# First start: a UTF-8 cluster with the database and the password-protected user that
# POSTGRES_DB, POSTGRES_USER and POSTGRES_PASSWORD name (as the official image does). Then the
# server in the foreground, as PID 1's child of nothing: SIGINT (the image's STOPSIGNAL) is a
# fast shutdown that finishes cleanly.
set -eu
: "${POSTGRES_USER:=mizual}" "${POSTGRES_DB:=mizual}"
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
  echo "postgres: set POSTGRES_PASSWORD (in .env)" >&2
  exit 1
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  # Without -E and --locale, initdb in a base without locales makes a SQL_ASCII cluster.
  initdb -D "$PGDATA" -E UTF8 --locale=C.UTF-8 -U "$POSTGRES_USER" --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "$POSTGRES_DB" != postgres ]; then
    createdb -U "$POSTGRES_USER" "$POSTGRES_DB"
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "postgres: made database $POSTGRES_DB for $POSTGRES_USER"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
