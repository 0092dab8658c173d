-- Trace bodies compressed with lz4 instead of pglz where the server offers it: PostgreSQL spends
-- less CPU on each trace row written, and every proxy of a fleet writes into this one table
-- (docs/proxy.md, "Zero-loss traces", has the measurement).
--
-- The parent table first, so that partitions made later copy its setting; then each partition
-- already there, which an ALTER of the parent does not reach. Rows already written keep pglz.
-- Proxies may be writing meanwhile (a rolling upgrade migrates at start): each ALTER waits at
-- most 500 ms for its lock, and a table still busy then keeps pglz, with a notice, rather than
-- hold up the writes queued behind the migration; compression changes no result. A server
-- without lz4 (before PostgreSQL 14, built without it, the embedded database) is left as it is.
DO $$
DECLARE
  lz4 constant text := 'ALTER TABLE %s ALTER COLUMN request_body SET COMPRESSION lz4,
                          ALTER COLUMN response_body SET COMPRESSION lz4,
                          ALTER COLUMN request_body_enc SET COMPRESSION lz4,
                          ALTER COLUMN response_body_enc SET COMPRESSION lz4';
  part regclass;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    RAISE NOTICE 'this server has no lz4: trace bodies stay compressed with pglz';
    RETURN;
  END IF;
  PERFORM set_config('lock_timeout', '500ms', true);
  BEGIN
    EXECUTE format(lz4, 'renlayer.traces');
  EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
    RAISE NOTICE 'renlayer.traces was busy: partitions made from now on keep pglz';
  END;
  -- A statement of its own, so it sees a partition made while the ALTER above waited.
  FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'renlayer.traces'::regclass LOOP
    BEGIN
      EXECUTE format(lz4, part);
    EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
      RAISE NOTICE '% was busy: it keeps pglz', part;
    END;
  END LOOP;
END $$;
