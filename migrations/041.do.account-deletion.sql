-- Leaving the service. A deleted account keeps its users row as a pseudonymous tombstone (no
-- name, email, avatar, phone or username; deleted_at set), so ledger entries, wallets,
-- participants and prize rows keep valid references and the ledger still sums to zero. The
-- rest of the user's personal data is deleted (services/users/deletion.ts; README, "Leaving").
ALTER TABLE users
  ADD COLUMN deleted_at timestamptz,
  -- Who asked: the user, an admin, or Supabase Auth (the auth user was deleted).
  ADD COLUMN deleted_by text CHECK (deleted_by IN ('self', 'admin', 'auth')),
  ADD CONSTRAINT users_deletion_check CHECK ((deleted_at IS NULL) = (deleted_by IS NULL));

-- Data exports built by a job: everything the service holds about a user as one JSON archive,
-- kept until expires_at and deleted with the account.
CREATE TABLE account_exports (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       uuid NOT NULL REFERENCES users (id),
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready', 'failed')),
  archive       jsonb,
  bytes         integer CHECK (bytes >= 0),
  created_at    timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz,
  expires_at    timestamptz NOT NULL,
  CHECK ((status = 'ready') = (archive IS NOT NULL))
);
CREATE INDEX account_exports_user_idx ON account_exports (user_id, created_at DESC, id DESC);
CREATE INDEX account_exports_expiry_idx ON account_exports (expires_at);

ALTER TABLE account_exports ENABLE ROW LEVEL SECURITY;
