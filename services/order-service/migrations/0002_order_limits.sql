-- Up Migration
-- The orders that hold stock (not cancelled), per user and time: the order limits' count and sum
-- (issue 15, finding 8) read only these.
CREATE INDEX orders_user_open_idx ON orders (user_id, created_at) WHERE status <> 'cancelled';

-- The holding limits, checked inside the statement that inserts the order (src/adapters/postgres.ts):
-- one round trip, atomic. The advisory lock (held to the end of that statement's transaction)
-- serializes the placements of one user; the count after it runs with a fresh snapshot (a VOLATILE
-- function's statements each take one under READ COMMITTED), so it sees every placement of this
-- user that committed before. Over a limit: SQLSTATE OL001, the limit as JSON in DETAIL.
-- p_products / p_units: the units per product of the new order (one entry per product).
-- A limit of 0 is off; p_window_hours 0 counts orders however old. The scan reads the newest
-- p_max_orders open orders at most: a customer holding that many is refused on the count alone.
CREATE FUNCTION order_limits_check(
  p_user text, p_products text[], p_units int[], p_max_orders int, p_max_units int, p_window_hours int
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_open int;
  v_units jsonb;
  v_held int;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('order-service.limits'), hashtext(p_user));
  WITH open AS (
    SELECT items FROM orders
     WHERE user_id = p_user AND status <> 'cancelled'
       AND (p_window_hours = 0 OR created_at > now() - make_interval(hours => p_window_hours))
     ORDER BY created_at DESC LIMIT NULLIF(p_max_orders, 0))
  SELECT (SELECT count(*) FROM open)::int,
         COALESCE((SELECT jsonb_object_agg(pid, n) FROM (
           SELECT i->>'productId' AS pid, sum((i->>'quantity')::int) AS n
             FROM open CROSS JOIN LATERAL jsonb_array_elements(open.items) i
            WHERE p_max_units > 0 AND i->>'productId' = ANY(p_products) GROUP BY 1) u), '{}'::jsonb)
    INTO v_open, v_units;
  IF p_max_orders > 0 AND v_open + 1 > p_max_orders THEN
    RAISE EXCEPTION 'order limit: open orders' USING ERRCODE = 'OL001',
      DETAIL = json_build_object('limit', 'open_orders', 'max', p_max_orders, 'held', v_open)::text;
  END IF;
  IF p_max_units > 0 THEN
    FOR i IN 1 .. COALESCE(array_length(p_products, 1), 0) LOOP
      v_held := COALESCE((v_units->>p_products[i])::int, 0);
      IF v_held + p_units[i] > p_max_units THEN
        RAISE EXCEPTION 'order limit: units per product' USING ERRCODE = 'OL001',
          DETAIL = json_build_object('limit', 'units_per_product', 'max', p_max_units, 'held', v_held,
                                     'productId', p_products[i])::text;
      END IF;
    END LOOP;
  END IF;
  RETURN true;
END
$$;

-- Down Migration
DROP FUNCTION order_limits_check(text, text[], int[], int, int, int);
DROP INDEX orders_user_open_idx;
