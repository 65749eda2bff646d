-- ---- users (user-service) ----------------------------------------------------------------
-- One administrator, admin@mdp.local (registration only ever creates customers). Database
-- `users`, after services/user-service/migrations. Idempotent.
-- The password is NOT here: this is the argon2id hash of SEED_ADMIN_PASSWORD as shipped in
-- .env.example (a demo value for dev and staging). To use another password, run
-- services/user-service/src/seed.ts with SEED_ADMIN_PASSWORD set instead, or change the
-- password after the first login; never put a production password in this file.
\connect users
INSERT INTO users (id, email, name, role, password_hash) VALUES
  ('00000000-0000-4000-8000-000000000001', 'admin@mdp.local', 'Shop Admin', 'admin',
   '$argon2id$v=19$m=19456,t=2,p=1$nhP/cMllI5vVF2tBlZLD5Q$FUmUmaKfGe+4SvPXWf20hZO1WJvBXsWK7EpUTyT7RA4')
ON CONFLICT DO NOTHING;

-- ---- catalog (product-service) -------------------------------------------------------
-- Demo products for the PostgreSQL catalog store (database `catalog`, after
-- services/product-service/migrations). Idempotent. The same products, with the same ids,
-- are in databases/mongodb/init.js and services/product-service/src/seed-data.ts.
\connect catalog
INSERT INTO products (id, doc) VALUES
  ('00000000-0000-4000-8000-000000000101', '{"sku":"KB-001","name":"Mechanical keyboard","description":"Tenkeyless mechanical keyboard with brown switches","category":"peripherals","price":{"amount":8999,"currency":"EUR"},"stock":40}'),
  ('00000000-0000-4000-8000-000000000102', '{"sku":"MS-001","name":"Wireless mouse","description":"Ergonomic wireless mouse with a silent click","category":"peripherals","price":{"amount":2999,"currency":"EUR"},"stock":120}'),
  ('00000000-0000-4000-8000-000000000103', '{"sku":"MN-001","name":"27 inch monitor","description":"QHD IPS monitor, 144 Hz, height adjustable stand","category":"displays","price":{"amount":32900,"currency":"EUR"},"stock":15}'),
  ('00000000-0000-4000-8000-000000000104', '{"sku":"MN-002","name":"24 inch monitor","description":"Full HD monitor for the home office","category":"displays","price":{"amount":14900,"currency":"EUR"},"stock":25}'),
  ('00000000-0000-4000-8000-000000000105', '{"sku":"HS-001","name":"Noise cancelling headset","description":"Over-ear headset with active noise cancelling and a boom microphone","category":"audio","price":{"amount":17900,"currency":"EUR"},"stock":30}'),
  ('00000000-0000-4000-8000-000000000106', '{"sku":"SP-001","name":"Desk speakers","description":"A pair of compact powered desk speakers","category":"audio","price":{"amount":7900,"currency":"EUR"},"stock":18}'),
  ('00000000-0000-4000-8000-000000000107', '{"sku":"CB-001","name":"USB-C cable","description":"Braided USB-C to USB-C cable, 2 metres, 100 W","category":"accessories","price":{"amount":1499,"currency":"EUR"},"stock":500}'),
  ('00000000-0000-4000-8000-000000000108', '{"sku":"DK-001","name":"USB-C dock","description":"Docking station with two display outputs and ethernet","category":"accessories","price":{"amount":19900,"currency":"EUR"},"stock":12}'),
  ('00000000-0000-4000-8000-000000000109', '{"sku":"WC-001","name":"Webcam","description":"1080p webcam with a privacy shutter","category":"peripherals","price":{"amount":5900,"currency":"EUR"},"stock":60}'),
  ('00000000-0000-4000-8000-000000000110', '{"sku":"LS-001","name":"Laptop stand","description":"Aluminium laptop stand, foldable","category":"accessories","price":{"amount":3900,"currency":"EUR"},"stock":75}'),
  ('00000000-0000-4000-8000-000000000111', '{"sku":"SSD-001","name":"Portable SSD 1 TB","description":"USB-C portable solid state drive, 1 TB","category":"storage","price":{"amount":10900,"currency":"EUR"},"stock":45}'),
  ('00000000-0000-4000-8000-000000000112', '{"sku":"MP-001","name":"Desk mat","description":"Large felt desk mat","category":"accessories","price":{"amount":2499,"currency":"EUR"},"stock":200}')
ON CONFLICT DO NOTHING;
