-- Up Migration
-- The orders that hold stock (not cancelled), per user and time: the order limits' count and sum
-- (issue 15, finding 8; src/adapters/postgres.ts HOLDINGS_SQL) read only these.
CREATE INDEX orders_user_open_idx ON orders (user_id, created_at) WHERE status <> 'cancelled';

-- Down Migration
DROP INDEX orders_user_open_idx;
