-- Up Migration
-- The catalog as JSONB documents (the same shape as the MongoDB collection), with the
-- invariants the MongoDB validator enforces written as CHECK constraints.
CREATE TABLE products (
  id uuid PRIMARY KEY,
  doc jsonb NOT NULL,
  search tsvector GENERATED ALWAYS AS (
    to_tsvector('english', coalesce(doc->>'name', '') || ' ' || coalesce(doc->>'description', ''))
  ) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT products_doc_shape CHECK (
    jsonb_typeof(doc->'sku') = 'string'
    AND jsonb_typeof(doc->'name') = 'string'
    AND jsonb_typeof(doc->'description') = 'string'
    AND jsonb_typeof(doc->'category') = 'string'
    AND jsonb_typeof(doc->'stock') = 'number'
    AND jsonb_typeof(doc->'price'->'amount') = 'number'
    AND (doc->'price'->>'currency') ~ '^[A-Z]{3}$'
  ),
  CONSTRAINT products_stock_not_negative CHECK ((doc->>'stock')::integer >= 0),
  CONSTRAINT products_price_not_negative CHECK ((doc->'price'->>'amount')::bigint >= 0)
);
CREATE UNIQUE INDEX products_sku_key ON products ((doc->>'sku'));
CREATE INDEX products_category_id_idx ON products ((doc->>'category'), id);
CREATE INDEX products_search_idx ON products USING gin (search);

-- One row per order id that reserved (or released) stock: makes reserve/release idempotent.
CREATE TABLE stock_reservations (
  order_id text PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('reserved', 'released')),
  lines jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE stock_reservations;
DROP TABLE products;
