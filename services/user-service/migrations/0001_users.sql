-- Up Migration
CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Stored normalised (trimmed, lower-cased); the CHECK keeps every writer honest and the
  -- UNIQUE constraint makes two concurrent registrations of one address end in one row.
  email text NOT NULL,
  name text NOT NULL,
  role text NOT NULL DEFAULT 'customer',
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_email_normalised CHECK (email = lower(btrim(email)) AND length(email) BETWEEN 3 AND 254),
  CONSTRAINT users_email_unique UNIQUE (email),
  CONSTRAINT users_role_known CHECK (role IN ('customer', 'admin')),
  CONSTRAINT users_name_length CHECK (length(name) BETWEEN 1 AND 100)
);

-- Down Migration
DROP TABLE users;
