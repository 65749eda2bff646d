-- Up Migration
-- Reserve and release as one round trip each (the hot path of every order). Same rules as
-- before: all lines or none, never below zero, idempotent per order id, a released order id
-- cannot reserve again. A refusal raises an exception, which undoes the whole call.
CREATE FUNCTION reserve_stock(p_order_id text, p_lines jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  existing record;
  line record;
  d jsonb;
  s integer;
  taken jsonb := '[]'::jsonb;
BEGIN
  -- A concurrent call for the same order id waits here until the first one commits or rolls back.
  INSERT INTO stock_reservations (order_id, status) VALUES (p_order_id, 'reserved')
    ON CONFLICT (order_id) DO NOTHING;
  IF NOT FOUND THEN
    SELECT status, lines INTO existing FROM stock_reservations WHERE order_id = p_order_id;
    IF existing.status = 'released' THEN
      RAISE EXCEPTION 'already_released' USING ERRCODE = 'P0001';
    END IF;
    RETURN jsonb_build_object('changed', false, 'lines', existing.lines);
  END IF;
  FOR line IN SELECT * FROM jsonb_to_recordset(p_lines) AS x("productId" uuid, quantity integer) LOOP
    -- The WHERE makes the check and the decrement one atomic step.
    UPDATE products
       SET doc = jsonb_set(doc, '{stock}', to_jsonb((doc->>'stock')::integer - line.quantity)),
           updated_at = now()
     WHERE id = line."productId" AND (doc->>'stock')::integer >= line.quantity
     RETURNING doc INTO d;
    IF NOT FOUND THEN
      IF EXISTS (SELECT 1 FROM products WHERE id = line."productId") THEN
        RAISE EXCEPTION 'insufficient_stock' USING ERRCODE = 'P0001', DETAIL = line."productId"::text;
      END IF;
      RAISE EXCEPTION 'unknown_product' USING ERRCODE = 'P0001', DETAIL = line."productId"::text;
    END IF;
    s := (d->>'stock')::integer;
    taken := taken || jsonb_build_object(
      'productId', line."productId", 'sku', d->'sku', 'name', d->'name', 'quantity', line.quantity,
      'unitPrice', d->'price', 'stock', s, 'stockBefore', s + line.quantity);
  END LOOP;
  UPDATE stock_reservations SET lines = taken WHERE order_id = p_order_id;
  RETURN jsonb_build_object('changed', true, 'lines', taken);
END
$$;

CREATE FUNCTION release_stock(p_order_id text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  existing record;
  line record;
  s integer;
  given jsonb := '[]'::jsonb;
BEGIN
  -- Never reserved: a tombstone, so a late reserve for this order id is refused.
  INSERT INTO stock_reservations (order_id, status) VALUES (p_order_id, 'released')
    ON CONFLICT (order_id) DO NOTHING;
  IF FOUND THEN
    RETURN jsonb_build_object('changed', false, 'lines', '[]'::jsonb);
  END IF;
  SELECT status, lines INTO existing FROM stock_reservations WHERE order_id = p_order_id FOR UPDATE;
  IF existing.status = 'released' THEN
    RETURN jsonb_build_object('changed', false, 'lines', existing.lines);
  END IF;
  FOR line IN SELECT * FROM jsonb_array_elements(existing.lines) AS e(l) LOOP
    UPDATE products
       SET doc = jsonb_set(doc, '{stock}', to_jsonb((doc->>'stock')::integer + (line.l->>'quantity')::integer)),
           updated_at = now()
     WHERE id = (line.l->>'productId')::uuid
     RETURNING (doc->>'stock')::integer INTO s;
    given := given || (line.l || jsonb_build_object(
      'stock', coalesce(s, 0), 'stockBefore', coalesce(s, 0) - (line.l->>'quantity')::integer));
  END LOOP;
  UPDATE stock_reservations SET status = 'released', updated_at = now() WHERE order_id = p_order_id;
  RETURN jsonb_build_object('changed', true, 'lines', given);
END
$$;

-- Down Migration
DROP FUNCTION release_stock(text);
DROP FUNCTION reserve_stock(text, jsonb);
