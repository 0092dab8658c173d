import cluster from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The proxy's Prometheus metrics (SPEC §12). Each worker keeps its own registry; a scrape that
 * lands on any worker asks the primary, which merges every worker's registry, so one scrape
 * describes the whole instance.
 */
export class ProxyMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'renlayer_requests_total', help: 'Calls by final status and action type',
    labelNames: ['status', 'action_type'] as const, registers: [this.registry],
  });
  /** Label children by `status action_type`: prom-client hashes a labels object on every inc() otherwise. */
  private readonly requestCounters = new Map<string, { inc(): void }>();

  countRequest(status: string, actionType: string): void {
    const key = `${status} ${actionType}`;
    let child = this.requestCounters.get(key);
    if (!child) this.requestCounters.set(key, (child = this.requests.labels(status, actionType)));
    child.inc();
  }

  readonly unauthenticated = new Counter({
    name: 'renlayer_unauthenticated_total', help: 'Calls refused before a tenant was known (missing, unknown or revoked key)',
    registers: [this.registry],
  });
  readonly overhead = new Histogram({
    name: 'renlayer_proxy_overhead_seconds', help: 'Time spent in the proxy itself (total minus upstream)',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1], registers: [this.registry],
  });
  readonly upstream = new Histogram({
    name: 'renlayer_upstream_seconds', help: 'Upstream time per call, to the end of its answer',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [this.registry],
  });
  readonly dlpScan = new Histogram({
    name: 'renlayer_dlp_scan_seconds', help: 'DLP scan time per call (request and response)',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05], registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'renlayer_rate_limit_rejections_total', help: 'Calls refused by a rate limit or budget',
    registers: [this.registry],
  });
  readonly propagation = new Histogram({
    name: 'renlayer_config_propagation_seconds', help: 'Commit of a configuration change to its enforcement by this worker',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly traceQueue = new Gauge({
    name: 'renlayer_trace_queue_depth', help: 'Traces waiting to be written to PostgreSQL', registers: [this.registry],
    // prom-client calls collect() before reading a gauge: the one hook refreshes every sampled gauge.
    collect: () => this.refresh(),
  });
  readonly journalBytes = new Gauge({ name: 'renlayer_trace_journal_bytes', help: 'Bytes in the trace journal not yet known to be in PostgreSQL', registers: [this.registry] });
  readonly traceOutage = new Gauge({ name: 'renlayer_trace_db_unreachable', help: '1 while traces go to the journal because PostgreSQL is unreachable', registers: [this.registry] });
  readonly rateLimitFallback = new Gauge({
    name: 'renlayer_rate_limit_fallback',
    help: '1 while RENLAYER_REDIS_URL is set but unreachable and rate limits are counted per instance',
    registers: [this.registry],
  });
  readonly configVersion = new Gauge({ name: 'renlayer_config_version', help: 'Newest configuration version this worker holds', registers: [this.registry] });
  readonly configAge = new Gauge({ name: 'renlayer_config_age_seconds', help: 'Seconds since the snapshot was last (re)loaded', registers: [this.registry] });
  readonly poolConnections = new Gauge({
    name: 'renlayer_upstream_pool_connections', help: 'Upstream connections by origin and state',
    labelNames: ['origin', 'state'] as const, registers: [this.registry],
  });
  readonly poolQueued = new Gauge({
    name: 'renlayer_upstream_pool_queued', help: 'Calls waiting for a free upstream connection, by origin',
    labelNames: ['origin'] as const, registers: [this.registry],
  });

  /** Read at scrape time, from whichever worker is scraped. */
  private sample: (() => void) | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'renlayer_process_' });
    if (cluster.isWorker) {
      AggregatorRegistry.setRegistries([this.registry]);
      // Constructing one is what installs the worker's answer to the primary's requests.
      new AggregatorRegistry();
    }
  }

  /** Sets what the gauges read; called once the proxy's parts exist. */
  sampleWith(fn: () => void): void {
    this.sample = fn;
  }

  refresh(): void {
    this.sample?.();
  }
}

const ASK = 'renlayer:metrics?';
const ANSWER = 'renlayer:metrics!';

/** In the primary of a multi-worker proxy: answers workers' scrape requests with the merged text. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, msg: { type?: string; id?: number }) => {
    if (msg?.type !== ASK) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: ANSWER, id: msg.id, text }),
      (err: Error) => worker.send({ type: ANSWER, id: msg.id, error: err.message }),
    );
  });
}

let nextId = 0;

/** The text of a scrape: this process alone, or every worker when running under a primary. */
export async function scrape(metrics: ProxyMetrics): Promise<string> {
  if (!cluster.isWorker || !process.send) return metrics.registry.metrics();
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    const onMessage = (msg: { type?: string; id?: number; text?: string; error?: string }) => {
      if (msg?.type !== ANSWER || msg.id !== id) return;
      process.off('message', onMessage);
      clearTimeout(timer);
      if (msg.error !== undefined) reject(new Error(msg.error));
      else resolve(msg.text ?? '');
    };
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      resolve(metrics.registry.metrics());
    }, 2_000);
    process.on('message', onMessage);
    process.send!({ type: ASK, id });
  });
}
