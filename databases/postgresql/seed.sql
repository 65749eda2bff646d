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
