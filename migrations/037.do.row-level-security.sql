-- On Supabase the Data API (PostgREST) serves the public schema to the anon and authenticated
-- roles, and the project grants them every table there. Row level security on every table of
-- the service, with no policies, leaves those roles nothing to read or write, while the
-- service itself, the tables' owner, is not subject to it. Supabase's own linter asks the same
-- (rls_disabled_in_public); test/security/database-exposure.test.ts holds every later table to it.
DO $$
DECLARE
  t regclass;
BEGIN
  FOR t IN SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
  LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
  END LOOP;
END $$;
