-- One database role per service, each limited to its own schema (the architecture's rule: cross-schema
-- SQL is a bug, and in production the database refuses it).
--
-- Run once per database as a superuser (or the database owner with CREATEROLE) before the first
-- migrations, and again to rotate a password (it is idempotent):
--
--   psql "postgresql://postgres@db-host/hotline" -v ON_ERROR_STOP=1 \
--     -v ingest_password="$INGEST_DB_PASSWORD" -v indicators_password="$INDICATORS_DB_PASSWORD" \
--     -v scoring_password="$SCORING_DB_PASSWORD" -v appeals_password="$APPEALS_DB_PASSWORD" \
--     -f deploy/sql/roles.sql
--
-- Optional: -v role_prefix=hotline_ (the default) names the roles hotline_ingest, hotline_indicators, ...
-- Each role owns its schema, so its migrations (run as that role) create the tables there; it is given
-- nothing in any other schema, nor CREATE in public, so it can read and write its own schema only.

\set ON_ERROR_STOP on
\if :{?role_prefix}
\else
  \set role_prefix hotline_
\endif

-- Nobody connects or creates objects unless granted below.
REVOKE ALL ON DATABASE :"DBNAME" FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- ingest ------------------------------------------------------------------------------------------
\set role :role_prefix ingest
\set schema ingest
\set password :ingest_password
\ir roles_one_service.sql

-- indicators --------------------------------------------------------------------------------------
\set role :role_prefix indicators
\set schema indicators
\set password :indicators_password
\ir roles_one_service.sql

-- scoring -----------------------------------------------------------------------------------------
\set role :role_prefix scoring
\set schema scoring
\set password :scoring_password
\ir roles_one_service.sql

-- appeals -----------------------------------------------------------------------------------------
\set role :role_prefix appeals
\set schema appeals
\set password :appeals_password
\ir roles_one_service.sql
