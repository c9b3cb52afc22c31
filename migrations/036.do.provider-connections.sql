-- Cloud fitness providers (Fitbit, Garmin, Strava, Oura) connected by OAuth 2.0 with PKCE.

ALTER TABLE fitness_samples DROP CONSTRAINT fitness_samples_source_check;
ALTER TABLE fitness_samples ADD CONSTRAINT fitness_samples_source_check
  CHECK (source IN ('healthkit', 'health_connect', 'google_fit', 'manual', 'fitbit', 'garmin', 'strava', 'oura', 'other'));

-- An authorization in flight: created when the user starts connecting, consumed once by the
-- provider's redirect. The PKCE verifier is sealed like the tokens (lib/token-cipher.ts).
CREATE TABLE oauth_states (
  state            text PRIMARY KEY CHECK (char_length(state) BETWEEN 32 AND 128),
  user_id          uuid NOT NULL REFERENCES users (id),
  provider         text NOT NULL CHECK (provider IN ('fitbit', 'garmin', 'strava', 'oura')),
  code_verifier    text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL
);
CREATE INDEX oauth_states_expiry_idx ON oauth_states (expires_at);

-- One connection per user and provider; a provider account belongs to one user at a time.
-- Tokens are sealed (AES-256-GCM, key id inside the value) and never leave the server.
CREATE TABLE provider_connections (
  user_id            uuid NOT NULL REFERENCES users (id),
  provider           text NOT NULL CHECK (provider IN ('fitbit', 'garmin', 'strava', 'oura')),
  external_user_id   text NOT NULL CHECK (char_length(external_user_id) BETWEEN 1 AND 200),
  access_token       text NOT NULL,
  refresh_token      text,
  expires_at         timestamptz,
  scope              text,
  -- active: data flows; reauthorize: the provider refused our refresh token (the user must
  -- connect again); the row is deleted on disconnect.
  status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'reauthorize')),
  connected_at       timestamptz NOT NULL DEFAULT now(),
  refreshed_at       timestamptz,
  last_sync_at       timestamptz,
  last_error         text,
  last_error_at      timestamptz,
  PRIMARY KEY (user_id, provider),
  UNIQUE (provider, external_user_id)
);
