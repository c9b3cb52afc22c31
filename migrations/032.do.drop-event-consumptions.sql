-- Every event consumer reads the current truth (or keys its effect, as webhook deliveries are
-- unique per endpoint and event), so no consumer records the events it applied: the table
-- 030 made for that is dropped unused.
DROP TABLE event_consumptions;
