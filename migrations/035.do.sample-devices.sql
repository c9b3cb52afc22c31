-- The device each fitness sample was recorded on, and the part of it that counts.
--
-- HealthKit and Health Connect give one source for a phone and a watch alike, so a walk both
-- recorded arrived twice under one source and was added. Within one source, samples now fall in
-- device lanes (device type by priority, then device id); a sample counts only for the part of
-- its time no higher lane's sample covers (services/fitness/device-priority.ts). That part is
-- kept with the sample (counted_value), recomputed whenever an overlapping sample changes, so
-- daily totals and scores read it without working out overlaps on every read.

ALTER TABLE fitness_samples
  ADD COLUMN device_type text NOT NULL DEFAULT 'other' CHECK (device_type IN ('watch', 'ring', 'band', 'phone', 'scale', 'other')),
  ADD COLUMN device_id text NOT NULL DEFAULT '' CHECK (char_length(device_id) <= 200),
  ADD COLUMN device_name text CHECK (char_length(device_name) <= 100),
  ADD COLUMN device_model text CHECK (char_length(device_model) <= 100),
  ADD COLUMN device_manufacturer text CHECK (char_length(device_manufacturer) <= 100),
  -- Lower sorts first and wins: watch, ring, band, phone, scale, other; then the device id.
  ADD COLUMN device_lane text GENERATED ALWAYS AS (
    CASE device_type WHEN 'watch' THEN '1' WHEN 'ring' THEN '2' WHEN 'band' THEN '3' WHEN 'phone' THEN '4' WHEN 'scale' THEN '5' ELSE '6' END
    || ':' || device_id) STORED,
  -- NULL: the sample counts in full (no higher lane covers any of it), as every sample did so far.
  ADD COLUMN counted_value numeric CHECK (counted_value >= 0);

-- Finds the other lanes' samples near a sample; empty at once for a user with one device.
CREATE INDEX fitness_samples_lane_idx ON fitness_samples (user_id, metric, source, device_lane, start_at)
  WHERE kind = 'sample' AND NOT deleted AND NOT rejected;

-- The samples counted below their value: few, and a sync looks for them by metric and source.
CREATE INDEX fitness_samples_reduced_idx ON fitness_samples (user_id, metric, source) WHERE counted_value IS NOT NULL;
