import type { Logger } from 'pino';
import { RenLayerError } from '../core/errors.js';
import { openJson } from '../core/secretbox.js';
import { isConnectionError, type Database } from '../db/database.js';
import { compileDlp, dlpSalt, type CompiledDlp, type TenantDlpConfig } from '../dlp/engine.js';
import { responseHold, type TailHold } from '../dlp/stream.js';
import { PriceTable, type Price } from '../limits/prices.js';
import { DLP_CONFIG_JSON, dlpConfigFromJson, type DlpConfigJson } from '../store/dlp.js';
import { agentHeadersContext } from '../store/agents.js';
import { LIMITS_JSON, limitsFromJson } from '../store/limits.js';
import { POLICIES_JSON, policiesFromJson, type LoadedPolicies } from '../store/policies.js';
import { compilePolicies, type PolicySet } from '../policy/evaluate.js';
import type { LimitRule } from '../limits/types.js';

/**
 * The proxy's in-memory configuration: keys by hash, agents and tenant settings, rebuilt per
 * tenant when PostgreSQL announces a change (NOTIFY from triggers in the schema), with a periodic
 * version check for notifications lost while the listening connection was down. The hot path
 * reads only this; the database is asked only for a key the snapshot does not know yet.
 */
export interface KeyEntry {
  id: string;
  tenantId: string;
  agentId: string;
  expiresAt: number | null;
}

export interface UpstreamTarget {
  url: string;
  type: string;
  headers: Record<string, string>;
}

export interface AgentEntry {
  id: string;
  tenantId: string;
  name: string;
  enabled: boolean;
  upstreamType: string;
  upstream: UpstreamTarget | null;
  modelPin: string | null;
  fallbacks: UpstreamTarget[];
}

export interface TenantEntry {
  id: string;
  name: string;
  defaultAction: 'ALLOW' | 'DENY';
  enforcement: 'enforce' | 'flag_only';
  storeBodies: 'none' | 'redacted' | 'redacted_and_encrypted';
  settings: Record<string, unknown>;
  /** Bundled prices with the tenant's overrides. */
  prices: PriceTable;
  /** The tenant's DLP set, compiled once per change. */
  dlp: CompiledDlp;
  /** Enabled policies, compiled and ordered per stage, with the tenant's default action. */
  policies: PolicySet;
  /** What its streams' text waits for before it leaves (see `responseHold`), built with the DLP set. */
  streamHold: TailHold | null;
  /** Enabled rate limits and budgets. */
  limits: LimitRule[];
}

interface TenantConfig {
  tenant: TenantEntry;
  agents: Map<string, AgentEntry>;
  keyHashes: string[];
  version: number;
}

export interface SnapshotOptions {
  encryptionKey: Buffer | undefined;
  pollIntervalMs?: number;
  negativeCacheMs?: number;
  /** Called after a tenant was reloaded, with the commit time of the change when known. */
  onReload?: (tenantId: string, changedAt: Date | null) => void;
}

type AgentRow = { id: string; name: string; enabled: boolean; upstream_type: string; upstream_url: string | null; upstream_headers_enc: string | null; model_pin: string | null; fallbacks: { url: string; type?: string }[] | null; fallback_headers_enc: string | null };

/** One tenant's whole configuration as JSON (timestamps as ISO strings); $1 = tenant id. */
interface TenantJson {
  ver: { version: number; changed_at: string } | null;
  tenant: { id: string; name: string; default_action: 'ALLOW' | 'DENY'; enforcement: 'enforce' | 'flag_only'; store_bodies: TenantEntry['storeBodies']; settings: Record<string, unknown> } | null;
  agents: AgentRow[];
  keys: { id: string; key_hash: string; agent_id: string; expires_at: string | null }[];
  prices: { model: string; input: string | number; output: string | number }[];
  dlp: DlpConfigJson;
  policies: Parameters<typeof policiesFromJson>[0];
  limits: Parameters<typeof limitsFromJson>[1];
}

const TENANT_SQL = `SELECT
  (SELECT row_to_json(v) FROM (SELECT version, changed_at FROM renlayer.config_versions WHERE tenant_id = $1) v) AS ver,
  (SELECT row_to_json(t) FROM (SELECT id, name, default_action, enforcement, store_bodies, settings FROM renlayer.tenants WHERE id = $1) t) AS tenant,
  (SELECT coalesce(json_agg(a), '[]'::json) FROM (
    SELECT id, name, enabled, upstream_type, upstream_url, upstream_headers_enc, model_pin, fallbacks, fallback_headers_enc
      FROM renlayer.agents WHERE tenant_id = $1) a) AS agents,
  (SELECT coalesce(json_agg(k), '[]'::json) FROM (
    SELECT id, key_hash, agent_id, expires_at FROM renlayer.api_keys
     WHERE tenant_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())) k) AS keys,
  (SELECT coalesce(json_agg(p), '[]'::json) FROM (
    SELECT model, input_usd_per_mtok AS input, output_usd_per_mtok AS output FROM renlayer.model_prices WHERE tenant_id = $1) p) AS prices,
  ${DLP_CONFIG_JSON} AS dlp,
  ${POLICIES_JSON} AS policies,
  ${LIMITS_JSON} AS limits`;

const NOTIFY_CHANNEL = 'renlayer_config';
const DEFAULT_PRICES = new PriceTable();
const NEGATIVE_CACHE_MAX = 10_000;

export class ConfigSnapshot {
  private readonly keys = new Map<string, KeyEntry>();
  private readonly tenants = new Map<string, TenantConfig>();
  /** Hashes recently looked up and not found, so a flood of bad keys cannot hammer the database. */
  private readonly negative = new Map<string, number>();
  private highWater = 0;
  private loaded = false;
  private unlisten: (() => Promise<void>) | null = null;
  private poller: NodeJS.Timeout | null = null;
  private reconnecting = false;
  private stopped = false;
  private readonly reloading = new Map<string, Promise<void>>();
  /** Versions of deleted tenants, so the version check does not reload them again and again. */
  private readonly removed = new Map<string, number>();
  loadedAt = 0;
  notificationsWork = false;
  private probeWaiter: { probe: string; resolve: (ok: boolean) => void } | null = null;

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly opts: SnapshotOptions,
  ) {}

  get ready(): boolean {
    return this.loaded;
  }

  get version(): number {
    return this.highWater;
  }

  /** Loads everything and subscribes to changes. Throws if the database cannot be reached. */
  async start(): Promise<void> {
    await this.subscribe();
    await this.loadAll();
    // Notifications are the fast path; where they cannot arrive (PgBouncer in transaction mode,
    // an embedded database served over a socket) the version check must carry the one-second
    // promise alone, so it runs often until the probe shows notifications work.
    this.schedulePoll(this.opts.pollIntervalMs ?? 300);
    this.notificationsWork = await this.probeNotifications();
    if (this.notificationsWork) {
      if (this.opts.pollIntervalMs === undefined) this.schedulePoll(5_000);
    } else {
      this.log.warn('config notifications do not arrive through this connection; checking versions every 300 ms instead');
    }
  }

  private schedulePoll(ms: number): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = setInterval(() => void this.poll(), ms);
    this.poller.unref();
  }

  /** Sends ourselves a notification and waits briefly for it. */
  private async probeNotifications(): Promise<boolean> {
    const probe = `probe-${process.pid}-${Date.now()}`;
    const arrived = new Promise<boolean>((resolve) => {
      this.probeWaiter = { probe, resolve };
      setTimeout(() => resolve(false), 2_000).unref();
    });
    await this.db.query('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, JSON.stringify({ probe })]);
    const ok = await arrived;
    this.probeWaiter = null;
    return ok;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    await this.unlisten?.().catch(() => {});
  }

  findKey(hash: string): KeyEntry | undefined {
    return this.keys.get(hash);
  }

  agent(tenantId: string, agentId: string): AgentEntry | undefined {
    return this.tenants.get(tenantId)?.agents.get(agentId);
  }

  tenant(tenantId: string): TenantEntry | undefined {
    return this.tenants.get(tenantId)?.tenant;
  }

  /**
   * A key the snapshot does not hold may have been minted a moment ago: ask the database once,
   * then remember a miss for a short while. If the database cannot be asked the caller must
   * answer 503, never 401 (the key may well be valid).
   */
  async lookupMissingKey(hash: string): Promise<KeyEntry | undefined> {
    const now = Date.now();
    const missUntil = this.negative.get(hash);
    if (missUntil !== undefined && missUntil > now) return undefined;
    let row: { tenant_id: string } | undefined;
    try {
      const r = await this.db.query<{ tenant_id: string }>(
        'SELECT tenant_id FROM renlayer.api_keys WHERE key_hash = $1 AND revoked_at IS NULL', [hash]);
      row = r.rows[0];
    } catch {
      throw new RenLayerError('auth_unavailable',
        'the key is not in this proxy\'s configuration and the database cannot be asked; retry shortly');
    }
    if (!row) {
      if (this.negative.size >= NEGATIVE_CACHE_MAX) this.negative.clear();
      this.negative.set(hash, now + (this.opts.negativeCacheMs ?? 2_000));
      return undefined;
    }
    await this.reloadTenant(row.tenant_id);
    return this.keys.get(hash);
  }

  private async subscribe(): Promise<void> {
    this.unlisten = await this.db.listen(NOTIFY_CHANNEL, (payload) => this.onNotify(payload), (err) => this.onListenLost(err));
  }

  private onNotify(payload: string): void {
    let msg: { tenant_id?: string; version?: number; probe?: string };
    try {
      msg = JSON.parse(payload);
    } catch {
      return;
    }
    if (msg.probe !== undefined) {
      if (this.probeWaiter?.probe === msg.probe) this.probeWaiter.resolve(true);
      return;
    }
    if (typeof msg.tenant_id !== 'string') return;
    const known = this.tenants.get(msg.tenant_id)?.version ?? 0;
    if (typeof msg.version === 'number' && msg.version <= known) return;
    void this.reloadTenant(msg.tenant_id).catch((err) => this.log.warn({ err: (err as Error).message }, 'config reload failed; the version check will retry'));
  }

  private onListenLost(err: Error): void {
    if (this.stopped || this.reconnecting) return;
    this.reconnecting = true;
    this.log.warn({ err: err.message }, 'lost the config notification connection; serving from the snapshot and reconnecting');
    // Until notifications are back, the version check alone carries the one-second promise (a
    // revocation committed while the reconnection backs off must not wait for the slow check).
    const relaxed = this.notificationsWork && this.opts.pollIntervalMs === undefined;
    if (relaxed) this.schedulePoll(300);
    const retry = async (delay: number): Promise<void> => {
      if (this.stopped) return;
      try {
        await this.subscribe();
        this.reconnecting = false;
        this.log.info('config notifications restored');
        if (relaxed && !this.stopped) this.schedulePoll(5_000);
        await this.poll();
      } catch {
        setTimeout(() => void retry(Math.min(delay * 2, 10_000)), delay).unref();
      }
    };
    setTimeout(() => void retry(250), 250).unref();
  }

  /** Catches up on any change whose notification was missed. */
  async poll(): Promise<void> {
    let rows: { tenant_id: string; version: number }[];
    try {
      // Every tenant's version, not only those above the highest seen: versions come from one
      // sequence but commit in any order, so a change holding a lower version can commit after
      // a higher one was already loaded (its notification lost while the listener was down).
      const r = await this.db.query<{ tenant_id: string; version: number }>(
        'SELECT tenant_id, version FROM renlayer.config_versions');
      rows = r.rows;
    } catch (err) {
      if (!isConnectionError(err)) this.log.warn({ err: (err as Error).message }, 'config version check failed');
      return;
    }
    for (const row of rows) {
      if ((this.tenants.get(row.tenant_id)?.version ?? this.removed.get(row.tenant_id) ?? 0) < row.version) {
        await this.reloadTenant(row.tenant_id).catch(() => {});
      } else {
        this.highWater = Math.max(this.highWater, row.version);
      }
    }
  }

  private async loadAll(): Promise<void> {
    const r = await this.db.query<{ id: string }>('SELECT id FROM renlayer.tenants');
    for (const t of r.rows) await this.reloadTenant(t.id);
    const v = await this.db.query<{ v: number | null }>('SELECT max(version) AS v FROM renlayer.config_versions');
    this.highWater = Math.max(this.highWater, v.rows[0]?.v ?? 0);
    this.loaded = true;
    this.loadedAt = Date.now();
  }

  /** Coalesces concurrent reloads of one tenant (a burst of notifications → one query set). */
  reloadTenant(tenantId: string): Promise<void> {
    const running = this.reloading.get(tenantId);
    if (running) return running.then(() => this.reloadTenant(tenantId));
    const p = this.loadTenant(tenantId).finally(() => this.reloading.delete(tenantId));
    this.reloading.set(tenantId, p);
    return p;
  }

  private async loadTenant(tenantId: string): Promise<void> {
    // One statement, so one snapshot and one round trip: an agent and its key committed together
    // are seen together (separate reads under READ COMMITTED could load the key without its
    // agent), and a reload under load waits for the event loop once, not once per table — the
    // fourteen round trips of a transaction made propagation a multiple of the loop's delay.
    const r = await this.db.query<TenantJson>(TENANT_SQL, [tenantId]);
    const { ver, tenant: t, agents: agentRows, keys: keyRows, prices: priceRows, dlp, policies, limits } = r.rows[0]!;
    const version = ver?.version ?? 0;
    const old = this.tenants.get(tenantId);
    for (const h of old?.keyHashes ?? []) this.keys.delete(h);
    if (!t) {
      this.tenants.delete(tenantId);
      this.removed.set(tenantId, version);
    } else {
      this.removed.delete(tenantId);
      const agents = new Map<string, AgentEntry>();
      for (const a of agentRows) agents.set(a.id, this.compileAgent(tenantId, a));
      const keyHashes: string[] = [];
      for (const k of keyRows) {
        this.keys.set(k.key_hash, { id: k.id, tenantId, agentId: k.agent_id, expiresAt: k.expires_at ? new Date(k.expires_at).getTime() : null });
        this.negative.delete(k.key_hash);
        keyHashes.push(k.key_hash);
      }
      const compiledDlp = this.compileTenantDlp(tenantId, dlpConfigFromJson(dlp));
      const compiledPolicies = this.compileTenantPolicies(tenantId, policiesFromJson(policies), t.default_action);
      const enforce = t.enforcement === 'enforce';
      // A response-stage policy that can refuse the answer (a DENY, enforced) may act on any
      // finding, so every value must be seen whole; a FLAG changes no byte the agent gets.
      const streamHold = responseHold(compiledDlp, { enforce, policies: enforce && compiledPolicies.response.some((p) => p.action === 'DENY') });
      if (streamHold?.kind === 'window') {
        this.log.warn({ tenant_id: tenantId }, 'a DLP pattern of this tenant cannot be read for streaming; its streams hold back their last 512 characters');
      }
      this.tenants.set(tenantId, {
        tenant: {
          id: t.id, name: t.name, defaultAction: t.default_action, enforcement: t.enforcement, storeBodies: t.store_bodies, settings: t.settings,
          prices: priceRows.length === 0 ? DEFAULT_PRICES
            : new PriceTable(Object.fromEntries(priceRows.map((p): [string, Price] => [p.model, { input: Number(p.input), output: Number(p.output) }]))),
          dlp: compiledDlp,
          policies: compiledPolicies,
          streamHold,
          limits: limitsFromJson(tenantId, limits),
        },
        agents,
        keyHashes,
        version,
      });
    }
    this.highWater = Math.max(this.highWater, version);
    this.opts.onReload?.(tenantId, ver?.changed_at ? new Date(ver.changed_at) : null);
  }

  /**
   * Patterns are validated when saved; one that still fails here (written by plain SQL) is left
   * out and logged rather than taking the tenant's whole DLP set down with it.
   */
  private compileTenantDlp(tenantId: string, config: TenantDlpConfig): CompiledDlp {
    // Finding hashes group repeats of a value; the salt is per tenant and stable across proxies.
    const salt = dlpSalt(this.opts.encryptionKey, tenantId);
    try {
      return compileDlp(config, salt);
    } catch (err) {
      this.log.error({ tenant_id: tenantId, err: (err as Error).message }, 'a DLP pattern of this tenant does not compile; enforcing without the tenant\'s custom patterns');
      return compileDlp({ ...config, patterns: [] }, salt);
    }
  }

  /**
   * Policies are validated when saved; one that fails its check here (written by plain SQL) is
   * left out and logged, like a broken DLP pattern: the rest of the tenant's rules still hold.
   */
  private compileTenantPolicies(tenantId: string, loaded: LoadedPolicies, defaultAction: 'ALLOW' | 'DENY'): PolicySet {
    for (const bad of loaded.invalid) {
      this.log.error({ tenant_id: tenantId, policy_id: bad.id, policy: bad.name, err: bad.reason }, 'a policy of this tenant is not valid; enforcing without it');
    }
    return compilePolicies(loaded.policies, defaultAction);
  }

  private compileAgent(tenantId: string, a: AgentRow): AgentEntry {
    const headers = this.openHeaders(a.upstream_headers_enc, agentHeadersContext(tenantId, a.id), a.id);
    const fallbackHeaders = this.openHeaders(a.fallback_headers_enc, agentHeadersContext(tenantId, a.id) + ':fallbacks', a.id) as unknown as Record<string, Record<string, string>>;
    return {
      id: a.id,
      tenantId,
      name: a.name,
      enabled: a.enabled,
      upstreamType: a.upstream_type,
      upstream: a.upstream_url ? { url: a.upstream_url, type: a.upstream_type, headers } : null,
      modelPin: a.model_pin,
      fallbacks: (a.fallbacks ?? []).map((f) => ({ url: f.url, type: f.type ?? a.upstream_type, headers: fallbackHeaders[f.url] ?? {} })),
    };
  }

  private openHeaders(envelope: string | null, context: string, agentId: string): Record<string, string> {
    if (!envelope) return {};
    if (!this.opts.encryptionKey) {
      this.log.error({ agent_id: agentId }, 'agent has encrypted upstream headers but no RENLAYER_ENCRYPTION_KEY is set');
      return {};
    }
    try {
      return openJson<Record<string, string>>(this.opts.encryptionKey, envelope, context);
    } catch {
      this.log.error({ agent_id: agentId }, 'cannot decrypt the agent\'s upstream headers: RENLAYER_ENCRYPTION_KEY differs from the one that stored them');
      return {};
    }
  }
}
