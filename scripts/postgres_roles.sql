-- The read-only role BI tools log in as. scripts/postgres.sh runs this on the project's cluster;
-- on an existing server (EDUQ_PG_URL) a database administrator runs it once, connected to the
-- database that will hold the marts:
--
--   psql "postgresql://admin@host/eduq" -v db=eduq -v bi_role=eduq_bi -v bi_password='…' \
--        -f scripts/postgres_roles.sql
--
-- The role can connect to this database and nothing else; it reads the schema marts (eduq grants
-- SELECT on every mart each time it publishes them) and nothing else; it can create nothing and
-- write nothing (no temporary tables either).
\set ON_ERROR_STOP 1

select format('create role %I login password %L', :'bi_role', :'bi_password')
where not exists (select from pg_roles where rolname = :'bi_role') \gexec

select format(
    'alter role %I login password %L nosuperuser nocreatedb nocreaterole noinherit noreplication nobypassrls',
    :'bi_role', :'bi_password') \gexec

-- a BI tool that tries to write gets "cannot execute … in a read-only transaction" even before the
-- missing privileges; the marts are found without a schema prefix
select format('alter role %I set default_transaction_read_only = on', :'bi_role') \gexec
select format('alter role %I set search_path = marts', :'bi_role') \gexec

-- this database: connect, nothing more (no temporary tables, nothing in schema public)
select format('revoke all on database %I from public', :'db') \gexec
select format('grant connect on database %I to %I', :'db', :'bi_role') \gexec
revoke all on schema public from public;
