-- Included by roles.sql with :role, :schema and :password set: one service's role and schema.

SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec

-- A plain login role: no superuser, no role or database creation, bounded connections (pool size x replicas).
SELECT format(
  'ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 100 PASSWORD %L',
  :'role', :'password'
) \gexec

SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'schema', :'role') \gexec
SELECT format('ALTER SCHEMA %I OWNER TO %I', :'schema', :'role') \gexec
SELECT format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', :'schema') \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'DBNAME', :'role') \gexec
SELECT format('ALTER ROLE %I IN DATABASE %I SET search_path = %I', :'role', :'DBNAME', :'schema') \gexec
