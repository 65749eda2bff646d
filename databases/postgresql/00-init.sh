#!/bin/bash
# Runs once, on the first start of an empty data volume (docker-entrypoint-initdb.d):
# creates the databases and roles from init.sql, then gives each service role its password
# from the postgresql-credentials Secret (psql variables, so no password reaches a log).
set -euo pipefail
sql_dir="${MDP_SQL_DIR:-/mdp/sql}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -f "$sql_dir/init.sql"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v user_pw="$USER_SERVICE_DB_PASSWORD" \
  -v product_pw="$PRODUCT_SERVICE_DB_PASSWORD" \
  -v order_pw="$ORDER_SERVICE_DB_PASSWORD" \
  -v notification_pw="$NOTIFICATION_SERVICE_DB_PASSWORD" <<'SQL'
ALTER ROLE user_service PASSWORD :'user_pw';
ALTER ROLE product_service PASSWORD :'product_pw';
ALTER ROLE order_service PASSWORD :'order_pw';
ALTER ROLE notification_service PASSWORD :'notification_pw';
SQL
