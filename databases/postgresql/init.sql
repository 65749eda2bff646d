-- Databases and roles of the platform: one role per service, each owning only its own
-- database (platform contract: users, catalog, orders, notifications).
-- Idempotent: safe to run again on a server that already has some of them.
-- Passwords are never set here: Kubernetes sets them from the postgresql-credentials Secret
-- (00-init.sh); local development uses trust authentication.
-- Run with psql as a superuser: psql -v ON_ERROR_STOP=1 -U postgres -d postgres -f init.sql
\set ON_ERROR_STOP on

SELECT 'CREATE ROLE user_service LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'user_service') \gexec
SELECT 'CREATE ROLE product_service LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'product_service') \gexec
SELECT 'CREATE ROLE order_service LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'order_service') \gexec
SELECT 'CREATE ROLE notification_service LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'notification_service') \gexec

-- Service roles are plain logins: no superuser, no role or database creation.
ALTER ROLE user_service NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE product_service NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE order_service NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
ALTER ROLE notification_service NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;

SELECT 'CREATE DATABASE users OWNER user_service'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'users') \gexec
SELECT 'CREATE DATABASE catalog OWNER product_service'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'catalog') \gexec
SELECT 'CREATE DATABASE orders OWNER order_service'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'orders') \gexec
SELECT 'CREATE DATABASE notifications OWNER notification_service'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'notifications') \gexec

ALTER DATABASE users OWNER TO user_service;
ALTER DATABASE catalog OWNER TO product_service;
ALTER DATABASE orders OWNER TO order_service;
ALTER DATABASE notifications OWNER TO notification_service;

-- Nobody but the owner (and superusers) may connect to a service's database.
REVOKE ALL ON DATABASE users FROM PUBLIC;
REVOKE ALL ON DATABASE catalog FROM PUBLIC;
REVOKE ALL ON DATABASE orders FROM PUBLIC;
REVOKE ALL ON DATABASE notifications FROM PUBLIC;

-- In PostgreSQL 15 the public schema belongs to pg_database_owner (the database's owner),
-- and PUBLIC cannot create in it; make that explicit on each database.
\connect users
REVOKE ALL ON SCHEMA public FROM PUBLIC;
\connect catalog
REVOKE ALL ON SCHEMA public FROM PUBLIC;
\connect orders
REVOKE ALL ON SCHEMA public FROM PUBLIC;
\connect notifications
REVOKE ALL ON SCHEMA public FROM PUBLIC;
