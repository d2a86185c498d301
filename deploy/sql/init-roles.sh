#!/bin/sh
# Compose only: the postgres image runs this once, when the data directory is first initialised.
# It creates one role per service from deploy/sql/roles.sql, with the passwords from postgres.env.
set -eu
psql --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -v ON_ERROR_STOP=1 \
  -v ingest_password="$INGEST_DB_PASSWORD" \
  -v indicators_password="$INDICATORS_DB_PASSWORD" \
  -v scoring_password="$SCORING_DB_PASSWORD" \
  -v appeals_password="$APPEALS_DB_PASSWORD" \
  -f /hotline-sql/roles.sql
