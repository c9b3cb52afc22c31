-- A sync lease means nothing after a database crash (every sync it guarded was cut off with
-- it), so its table writes no WAL: taking and releasing a lease no longer waits for a WAL
-- flush at commit, which had been two of the four flushes of every device sync.
ALTER TABLE fitness_sync_leases SET UNLOGGED;
