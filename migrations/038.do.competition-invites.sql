-- Invitations to private competitions: a code (or a link carrying it) lets its holder see the
-- competition and join it, until it is revoked, expires or has been used max_uses times.
CREATE TABLE competition_invites (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code text NOT NULL UNIQUE CHECK (code ~ '^[A-Z2-9]{12}$'),
  competition_id uuid NOT NULL REFERENCES competitions (id) ON DELETE CASCADE,
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  max_uses integer CHECK (max_uses > 0),
  uses integer NOT NULL DEFAULT 0 CHECK (uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)),
  revoked_at timestamptz
);
CREATE INDEX competition_invites_by_competition ON competition_invites (competition_id, created_at DESC, id DESC);

-- Which invitation let a participant in (null: a public competition, its creator or an admin).
ALTER TABLE participants ADD COLUMN invite_id uuid REFERENCES competition_invites (id) ON DELETE SET NULL;

ALTER TABLE competition_invites ENABLE ROW LEVEL SECURITY;
