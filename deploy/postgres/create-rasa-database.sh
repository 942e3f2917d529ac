#!/bin/sh
# Runs once, when the PostgreSQL volume is new (docker-entrypoint-initdb.d):
# a database of its own for Rasa's tracker store, beside the gateway's.
# (Rasa also creates it through `login_db` if it is missing later.)
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "CREATE DATABASE \"${RASA_TRACKER_DB:-rasa}\" OWNER \"$POSTGRES_USER\""
