-- Trace bodies compressed with lz4 rather than PostgreSQL's default pglz, where the server has it.
-- Every stored body over about 2 KB is compressed as its row is written, and every proxy of a
-- fleet writes into this one table: a COPY of 50,000 rows with 2 KB request bodies into
-- renlayer.traces, indexes included, took PostgreSQL a median 64 µs a row with pglz and 44 with
-- lz4 (docs/proxy.md). lz4 also reads back faster in the console; bodies take about as much room.
--
-- New partitions take the setting from renlayer.traces; the ones already there are set one by
-- one (ALTER on a partitioned table does not reach them). Rows already written keep their
-- compression. A server built without lz4 (and the embedded database) keeps pglz: the same
-- schema runs on both.
DO $$
DECLARE
  part regclass;
BEGIN
  FOR part IN
    SELECT 'renlayer.traces'::regclass
    UNION ALL
    SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'renlayer.traces'::regclass
  LOOP
    EXECUTE format(
      'ALTER TABLE %s ALTER COLUMN request_body SET COMPRESSION lz4,
                      ALTER COLUMN response_body SET COMPRESSION lz4,
                      ALTER COLUMN request_body_enc SET COMPRESSION lz4,
                      ALTER COLUMN response_body_enc SET COMPRESSION lz4', part);
  END LOOP;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'this server has no lz4: trace bodies stay compressed with pglz';
END $$;
