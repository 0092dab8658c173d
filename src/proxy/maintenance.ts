import cluster from 'node:cluster';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { VERSION } from '../core/version.js';
import type { Database } from '../db/database.js';

export type Topology = 'sidecar' | 'gateway' | 'standalone';

/**
 * Background duties of a proxy process, none on the request path:
 * - the fleet registry row (SPEC §10 "proxy instances"): heartbeat, version, topology and the
 *   configuration version it enforces, every 10 s;
 * - trace partitions for the coming week and retention (dropping whole days), every hour.
 * Every duty is idempotent, so several workers and replicas doing it at once is harmless.
 */
export interface MaintenanceOptions {
  db: Database;
  log: Logger;
  instanceId: string;
  topology: Topology;
  workers: number;
  listen: string;
  retentionDays: number;
  configVersion: () => number;
}

export function startMaintenance(o: MaintenanceOptions): () => Promise<void> {
  const heartbeat = async () => {
    await o.db.query(
      `INSERT INTO renlayer.proxy_instances (id, hostname, pid, version, topology, workers, listen_addr, config_version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (id) DO UPDATE SET last_heartbeat_at = now(), config_version = EXCLUDED.config_version, stopped_at = NULL`,
      [o.instanceId, hostname(), cluster.isWorker ? process.ppid : process.pid, VERSION, o.topology, o.workers, o.listen, o.configVersion()]);
  };
  const housekeeping = async () => {
    await o.db.query('SELECT renlayer.ensure_trace_partitions(current_date - 1, 8)');
    await o.db.query('SELECT renlayer.drop_trace_partitions_before(current_date - $1::int)', [o.retentionDays]);
  };
  const quietly = (what: string, fn: () => Promise<void>) => () =>
    void fn().catch((err: Error) => o.log.debug({ err: err.message }, `${what} skipped; will retry`));
  const beat = setInterval(quietly('heartbeat', heartbeat), 10_000);
  const hourly = setInterval(quietly('trace partition maintenance', housekeeping), 3_600_000);
  beat.unref();
  hourly.unref();
  quietly('heartbeat', heartbeat)();
  quietly('trace partition maintenance', housekeeping)();
  return async () => {
    clearInterval(beat);
    clearInterval(hourly);
    await o.db.query('UPDATE renlayer.proxy_instances SET stopped_at = now() WHERE id = $1', [o.instanceId]).catch(() => {});
  };
}
