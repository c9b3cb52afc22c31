-- Notifications: what happened to a user, kept in their in-app inbox and sent on the channels
-- they allow (push, email, SMS), one delivery per notification and channel.

-- The language messages are written in (BCP 47: en, en-GB, es) and where SMS goes (E.164).
ALTER TABLE users
  ADD COLUMN locale text NOT NULL DEFAULT 'en' CHECK (locale ~ '^[a-z]{2,3}(-[A-Z]{2})?$'),
  ADD COLUMN phone_number text CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$');

-- The user's app installs that take push messages. A token belongs to one install, so a token
-- registered again (another user signed in on the phone) moves to the new user.
CREATE TABLE push_devices (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       uuid NOT NULL REFERENCES users (id),
  provider      text NOT NULL CHECK (provider IN ('fcm', 'expo')),
  token         text NOT NULL UNIQUE CHECK (char_length(token) BETWEEN 1 AND 4096),
  platform      text NOT NULL CHECK (platform IN ('android', 'ios', 'web')),
  app_version   text NOT NULL CHECK (char_length(app_version) BETWEEN 1 AND 40),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX push_devices_user_idx ON push_devices (user_id, created_at DESC);

-- A user's choices where they differ from the defaults (services/notifications/preferences.ts).
CREATE TABLE notification_preferences (
  user_id   uuid NOT NULL REFERENCES users (id),
  category  text NOT NULL CHECK (category IN ('rank', 'competition', 'results', 'money', 'security')),
  channel   text NOT NULL CHECK (channel IN ('push', 'email', 'sms')),
  enabled   boolean NOT NULL,
  PRIMARY KEY (user_id, category, channel)
);

-- Quiet hours are minutes after local midnight in the user's time zone; a window may wrap
-- past midnight (22:00-07:00). Routine messages wait for its end; money and security do not.
CREATE TABLE notification_settings (
  user_id      uuid PRIMARY KEY REFERENCES users (id),
  quiet_start  smallint CHECK (quiet_start BETWEEN 0 AND 1439),
  quiet_end    smallint CHECK (quiet_end BETWEEN 0 AND 1439),
  -- Routine messages sent per channel and local day; past it they stay in the inbox only.
  daily_cap    smallint NOT NULL DEFAULT 10 CHECK (daily_cap BETWEEN 0 AND 100),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CHECK ((quiet_start IS NULL) = (quiet_end IS NULL) AND (quiet_start IS NULL OR quiet_start <> quiet_end))
);

-- The inbox. `cause` names what it is about (an event, a reminder), so handling the same cause
-- again, after a retry or a restart, finds the row and creates nothing.
CREATE TABLE notifications (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id         uuid NOT NULL REFERENCES users (id),
  cause           text NOT NULL CHECK (char_length(cause) <= 200),
  category        text NOT NULL CHECK (category IN ('rank', 'competition', 'results', 'money', 'security')),
  template        text NOT NULL,
  params          jsonb NOT NULL,
  competition_id  uuid REFERENCES competitions (id) ON DELETE SET NULL,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  read_at         timestamptz,
  UNIQUE (user_id, cause)
);
CREATE INDEX notifications_inbox_idx ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL;

-- The delivery log: one row per notification and channel, so a message is sent once per
-- channel. queued -> sending -> sent | failed; skipped (a cap, no address) is never sent.
-- A row left in `sending` by a crash is failed, not sent again: its outcome is unknown.
CREATE TABLE notification_deliveries (
  notification_id  uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
  channel          text NOT NULL CHECK (channel IN ('push', 'email', 'sms')),
  status           text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'skipped')),
  reason           text,
  provider         text,
  provider_ids     text[] NOT NULL DEFAULT '{}',
  attempts         integer NOT NULL DEFAULT 0,
  send_after       timestamptz NOT NULL DEFAULT now(),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (notification_id, channel)
);
CREATE INDEX notification_deliveries_open_idx ON notification_deliveries (send_after) WHERE status IN ('queued', 'sending');

-- Routine messages counted per user, channel and local day, for the daily cap.
CREATE TABLE notification_daily_counts (
  user_id  uuid NOT NULL REFERENCES users (id),
  channel  text NOT NULL,
  day      date NOT NULL,
  sent     integer NOT NULL,
  PRIMARY KEY (user_id, channel, day)
);

-- The last rank message (overtaken, entered the top) per participant: at most one per window.
CREATE TABLE notification_rank_marks (
  competition_id  uuid NOT NULL REFERENCES competitions (id) ON DELETE CASCADE,
  user_id         uuid NOT NULL REFERENCES users (id),
  last_at         timestamptz NOT NULL,
  PRIMARY KEY (competition_id, user_id)
);

-- How far each competition's score.changed events have been read for rank messages: one job
-- per competition reads every batch since, however many arrived meanwhile.
CREATE TABLE notification_rank_cursors (
  competition_id  uuid PRIMARY KEY REFERENCES competitions (id) ON DELETE CASCADE,
  last_seq        bigint NOT NULL
);
