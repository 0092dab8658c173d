import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { errors as undiciErrors } from 'undici';
import { RenLayerError, isRenLayerError } from '../core/errors.js';
import { newTraceId } from '../core/ids.js';
import { hashApiKey, isWellFormedApiKey } from '../core/keys.js';
import type { Dispatcher } from 'undici';
import { redactJson, scan, type Finding } from '../dlp/engine.js';
import { evaluate, type Evaluation, type PolicyInput } from '../policy/evaluate.js';
import { applicableRules } from '../limits/subjects.js';
import type { Limiter, LimitRule, LimitState, LimitSubject } from '../limits/types.js';
import { policyInput } from './policy-input.js';
import { PRECEDENCE, publicFinding, verdict, type Status } from './verdict.js';
import { classify, type Classification } from '../dialects/classify.js';
import { apiKind, normalizeRequest, requestStreamUsage, type ApiKind, type NormalizedRequest, type Usage } from '../dialects/index.js';
import { dialectForPath, errorBody, type Dialect } from '../dialects/errors.js';
import { attributionHeader, presentedKey, upstreamRequestHeaders } from './http-headers.js';
import type { ProxyMetrics } from './metrics.js';
import type { AgentEntry, ConfigSnapshot, KeyEntry, TenantEntry, UpstreamTarget } from './snapshot.js';
import type { TraceRow, TraceWriter } from './traces.js';
import { bodyPolicy, redactedJsonBody, sealedBody, type BodyPolicy } from './bodies.js';
import { joined, readBounded } from './read-bounded.js';
import { relayResponse } from './relay.js';
import { upstreamTarget, type Upstreams } from './upstream.js';

export interface PipelineDeps {
  snapshot: ConfigSnapshot;
  traces: TraceWriter;
  upstreams: Upstreams;
  log: Logger;
  maxBodyBytes: number;
  defaultUpstream: string | undefined;
  instanceId: string;
  metrics: ProxyMetrics;
  /** Seals original bodies for tenants that store them (RENLAYER_ENCRYPTION_KEY). */
  encryptionKey: Buffer | undefined;
  traceBodyMaxBytes: number;
  limiter: Limiter;
}

/** Everything known about one call as it moves through the stages. */
interface Call {
  traceId: string;
  req: IncomingMessage;
  res: ServerResponse;
  started: number;
  /** Wall-clock start in milliseconds (the trace's started_at). */
  startedAt: number;
  path: string;
  dialect: Dialect;
  key?: KeyEntry;
  agent?: AgentEntry;
  tenant?: TenantEntry;
  user: string | null;
  session: string | null;
  /** The body as forwarded (usage requested, redacted) and as the agent sent it. */
  body: Buffer;
  received: Buffer;
  json: unknown;
  /** The body as the agent sent it, parsed: request findings' paths and offsets refer to it. */
  receivedJson: unknown;
  /** Its text, as decoded to be parsed; dropped once the request is scanned. */
  receivedText: string;
  /** The request body as the trace keeps it; set once the body is scanned (see scanRequest). */
  requestStored?: string;
  /** What the trace keeps of the bodies, decided once per call (see bodies.ts). */
  bodies?: BodyPolicy;
  responseStored?: string;
  responseOriginal?: Buffer;
  classification?: Classification;
  api: ApiKind;
  normalized: NormalizedRequest | null;
  usageInjected: boolean;
  usage: Usage | null;
  findings: Finding[];
  /** Every policy that matched, request stage then response stage, and the one that decided. */
  policyIds: string[];
  winningPolicyId: string | null;
  /** The limits that applied, for charging usage at the end, and where they stood. */
  limitRules: readonly LimitRule[];
  limitStates: LimitState[] | null;
  upstream?: UpstreamTarget;
  status: Status;
  reason: string | null;
  httpStatus: number;
  upstreamStart?: number;
  upstreamMs: number | null;
  ttfbMs: number | null;
  responseBytes: number;
  stream: boolean;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const EMPTY = Buffer.alloc(0);
const JOURNALLED = Promise.resolve();
/** Largest JSON answer held whole (for usage and response scanning); larger ones stream through. */
const RESPONSE_BUFFER_MAX = 32 * 1024 * 1024;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The call's session: the agent's own, else one per agent, user and hour (`startedIso` gives the hour). */
function attribution(call: Call, startedIso: string): string | null {
  return call.session ?? (call.agent ? `auto:${call.agent.id}:${call.user ?? '-'}:${startedIso.slice(0, 13)}` : null);
}

/**
 * The stages of SPEC §3, in order. Each stage either returns (the call goes on) or throws a
 * RenLayerError, which is answered in the agent's dialect and traced.
 */
export class Pipeline {
  constructor(private readonly deps: PipelineDeps) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const call: Call = {
      traceId: newTraceId(),
      req,
      res,
      started: performance.now(),
      startedAt: Date.now(),
      path: req.url ?? '/',
      dialect: dialectForPath(req.url ?? '/'),
      user: null,
      session: null,
      body: EMPTY,
      received: EMPTY,
      json: undefined,
      receivedJson: undefined,
      receivedText: '',
      api: 'http',
      normalized: null,
      usageInjected: false,
      usage: null,
      findings: [],
      policyIds: [],
      winningPolicyId: null,
      limitRules: [],
      limitStates: null,
      status: 'ALLOWED',
      reason: null,
      httpStatus: 0,
      upstreamMs: null,
      ttfbMs: null,
      responseBytes: 0,
      stream: false,
    };
    res.setHeader('x-renlayer-trace-id', call.traceId);
    try {
      this.authenticate(call) || (await this.authenticateFromDatabase(call));
      this.readAttribution(call);
      this.deps.traces.assertCapacity();
      if (!(await this.readBody(call))) return this.clientClosed(call);
      this.classify(call);
      await this.checkLimits(call);
      this.scanRequest(call);
      this.chooseUpstream(call);
      this.judgeRequest(call);
      await this.forward(call);
    } catch (err) {
      await this.fail(call, err);
    }
  }

  /** Snapshot only; false when the key is well-formed but unknown to the snapshot. */
  private authenticate(call: Call): boolean {
    const key = presentedKey(call.req.headers);
    if (!key || !isWellFormedApiKey(key)) {
      throw new RenLayerError('invalid_api_key', key ? 'the API key is not valid' : 'missing API key: send Authorization: Bearer <RenLayer key>');
    }
    const entry = this.deps.snapshot.findKey(hashApiKey(key));
    if (!entry) return false;
    this.admit(call, entry);
    return true;
  }

  private async authenticateFromDatabase(call: Call): Promise<void> {
    const entry = await this.deps.snapshot.lookupMissingKey(hashApiKey(presentedKey(call.req.headers)!));
    if (!entry) throw new RenLayerError('invalid_api_key', 'the API key is not valid, revoked or expired');
    this.admit(call, entry);
  }

  private admit(call: Call, entry: KeyEntry): void {
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      throw new RenLayerError('invalid_api_key', 'the API key has expired');
    }
    const agent = this.deps.snapshot.agent(entry.tenantId, entry.agentId);
    const tenant = this.deps.snapshot.tenant(entry.tenantId);
    if (!agent || !tenant) throw new RenLayerError('invalid_api_key', 'the API key is not valid, revoked or expired');
    call.key = entry;
    call.agent = agent;
    call.tenant = tenant;
    call.dialect = dialectForPath(call.path, agent.upstreamType);
    if (!agent.enabled) throw new RenLayerError('agent_disabled', `agent ${agent.name} is disabled`);
  }

  private readAttribution(call: Call): void {
    call.user = attributionHeader(call.req.headers, 'x-renlayer-user');
    call.session = attributionHeader(call.req.headers, 'x-renlayer-session');
  }

  /**
   * Bounded: a declared length over the limit is refused before a byte is read. False when the
   * agent went away before sending the whole body.
   */
  private async readBody(call: Call): Promise<boolean> {
    const max = this.deps.maxBodyBytes;
    const declared = Number(call.req.headers['content-length'] ?? 0);
    const tooLarge = () => new RenLayerError('payload_too_large', `the request body is larger than ${max} bytes (RENLAYER_MAX_BODY_BYTES)`);
    if (declared > max) throw tooLarge();
    const read = await readBounded(call.req, max);
    if (read.error) return false;
    if (!read.ended) {
      // The rest is not read: the connection closes once the answer is out.
      call.res.shouldKeepAlive = false;
      throw tooLarge();
    }
    call.body = joined(read);
    call.received = call.body;
    return true;
  }

  private classify(call: Call): void {
    const type = String(call.req.headers['content-type'] ?? '');
    if (call.body.length > 0 && (type.includes('json') || type === '')) {
      try {
        call.receivedText = call.body.toString('utf8');
        call.json = JSON.parse(call.receivedText);
        call.receivedJson = call.json;
      } catch {
        if (type.includes('json')) throw new RenLayerError('invalid_request', 'the request body is not valid JSON');
      }
    }
    const method = call.req.method ?? 'GET';
    call.classification = classify(method, call.path, call.json, call.agent!.upstreamType);
    if (call.classification.isJsonRpc) call.dialect = 'mcp';
    call.api = apiKind(method, call.path, call.json);
    call.normalized = normalizeRequest(call.api, call.json);
    // OpenAI-style streams report usage only when asked: ask, and hide the answer if the agent
    // did not ask itself (SPEC §7).
    if (call.normalized.stream && (call.api === 'openai_chat' || call.api === 'openai_completions') && isObject(call.json)) {
      const rewritten = requestStreamUsage(call.json);
      if (rewritten.injected) {
        call.usageInjected = true;
        call.json = rewritten.body;
        call.body = Buffer.from(JSON.stringify(rewritten.body));
      }
    }
  }

  /**
   * Rate limits and budgets (SPEC §3 step 4, §7): every limit that applies must pass; a breach
   * answers 429 with the limit and Retry-After, and counts nothing. No limits, no round trip.
   */
  private async checkLimits(call: Call): Promise<void> {
    if (call.tenant!.limits.length === 0) return;
    const subject = this.limitSubject(call);
    const rules = applicableRules(call.tenant!.limits, subject);
    if (rules.length === 0) return;
    call.limitRules = rules;
    const decision = await this.deps.limiter.check(rules, subject);
    call.limitStates = decision.states;
    if (!decision.allowed) {
      const b = decision.breach;
      throw new RenLayerError('rate_limit_exceeded',
        `${b.scope.replace('_', '-')} limit of ${b.limit} ${b.dimension === 'cost_usd' ? 'USD' : b.dimension} per ${b.window} reached; retry in ${b.retryAfterS} s`,
        { limit: { scope: b.scope, dimension: b.dimension, window: b.window, limit: b.limit, retry_after_s: b.retryAfterS } });
    }
  }

  private limitSubject(call: Call): LimitSubject {
    return { tenantId: call.tenant!.id, agentId: call.agent!.id, keyId: call.key!.id, user: call.user };
  }

  /**
   * Request DLP scan (SPEC §3 step 5): findings first, so that policies can match on them. The
   * body the trace keeps is fixed here, redacted by these findings: a call refused before this
   * point (a limit, a bad header) keeps none, since nothing unscanned is stored in clear.
   */
  private scanRequest(call: Call): void {
    const texts = call.normalized?.texts;
    if (texts && texts.length > 0) {
      const started = performance.now();
      call.findings = scan(call.tenant!.dlp, texts, 'request', call.agent!.id, { remember: true });
      this.deps.metrics.dlpScan.observe((performance.now() - started) / 1000);
    }
    const policy = this.bodies(call);
    if (policy.redacted && call.receivedJson !== undefined) {
      call.requestStored = redactedJsonBody(call.receivedJson, call.receivedText, call.findings, policy.maxBytes);
    }
    call.receivedText = '';
  }

  /**
   * Policies and the DLP decision (SPEC §3 steps 6 and 7): a DENY answers 403 policy_denied, a
   * blocking finding 403 dlp_blocked (flag-only tenants: forwarded, would_deny / would_block);
   * redaction rewrites the forwarded body. The answer and the trace carry class, severity and
   * location of findings, never the value.
   */
  private judgeRequest(call: Call): void {
    const tenant = call.tenant!;
    const evaluation = evaluate(tenant.policies, 'request', this.policyInput(call, call.findings));
    this.recordPolicies(call, evaluation);
    const v = verdict(call.findings, evaluation, tenant.enforcement);
    if (v.refusal) throw v.refusal;
    if (v.redact.length > 0 && call.json !== undefined) {
      call.json = redactJson(call.json, v.redact);
      call.body = Buffer.from(JSON.stringify(call.json));
    }
    if (v.status !== 'ALLOWED') this.raise(call, v.status, v.reason);
  }

  private policyInput(call: Call, findings: readonly Finding[]): PolicyInput {
    return policyInput({
      agent: call.agent!, classification: call.classification, normalized: call.normalized, upstream: call.upstream,
      headers: call.req.headers, requestBytes: call.received.length, user: call.user, session: call.session,
    }, findings);
  }

  private recordPolicies(call: Call, e: Evaluation): void {
    for (const p of e.matched) if (!call.policyIds.includes(p.id)) call.policyIds.push(p.id);
    if (e.winner && e.action !== 'ALLOW') call.winningPolicyId = e.winner.id;
    else if (e.winner && call.winningPolicyId === null) call.winningPolicyId = e.winner.id;
  }

  /**
   * Response-stage policies (SPEC §5), over the request's findings and the answer's so far: a
   * DENY withholds the answer (enforce), a FLAG flags the call. Null when the answer may go on.
   */
  private judgeResponse(call: Call, responseFindings: readonly Finding[]): RenLayerError | null {
    const tenant = call.tenant!;
    const evaluation = evaluate(tenant.policies, 'response', this.policyInput(call, [...call.findings, ...responseFindings]));
    if (evaluation.matched.length === 0) return null;
    this.recordPolicies(call, evaluation);
    const v = verdict([], evaluation, tenant.enforcement, 'response');
    if (v.refusal) return v.refusal;
    if (v.status !== 'ALLOWED') this.raise(call, v.status, v.reason);
    return null;
  }

  /** What the response findings that did not stop the answer make of the call's status. */
  private judgeResponseFindings(call: Call, findings: Finding[]): void {
    if (findings.length === 0) return;
    const v = verdict(findings, { matched: [], winner: null, action: 'ALLOW', defaulted: false }, call.tenant!.enforcement, 'response');
    // Only reached unblocked in flag-only mode, or for redact and warn.
    if (v.status !== 'ALLOWED') this.raise(call, v.status, v.reason);
  }

  /** Moves the call's status up the SPEC §3 precedence, never down. */
  private raise(call: Call, status: Status, reason: string | null): void {
    if (PRECEDENCE[status] <= PRECEDENCE[call.status]) return;
    call.status = status;
    call.reason = reason;
    if ((status === 'FLAGGED' || status === 'DLP_WARNED') && !call.res.headersSent) call.res.setHeader('x-renlayer-status', status);
  }

  private chooseUpstream(call: Call): void {
    const agent = call.agent!;
    if (agent.upstream) {
      call.upstream = agent.upstream;
    } else if (this.deps.defaultUpstream) {
      call.upstream = { url: this.deps.defaultUpstream, type: agent.upstreamType, headers: {} };
    } else {
      throw new RenLayerError('no_upstream', `agent ${agent.name} has no upstream and RENLAYER_DEFAULT_UPSTREAM is not set`);
    }
  }

  private async forward(call: Call): Promise<void> {
    const { res } = call;
    // undici takes an EventEmitter as its signal: an AbortController per call (an EventTarget
    // and its listener bookkeeping) cost more than anything else in this stage.
    const abort = new EventEmitter();
    let clientGone = false;
    res.on('close', () => {
      if (!res.writableFinished) {
        clientGone = true;
        abort.emit('abort');
      }
    });
    call.upstreamStart = performance.now();
    const response = await this.send(call, abort, () => clientGone);
    if (!response) return this.clientClosed(call);
    call.ttfbMs = performance.now() - call.upstreamStart;
    call.httpStatus = response.statusCode;
    await relayResponse({
      res,
      api: call.api,
      traceId: call.traceId,
      dialect: call.dialect,
      rpcId: call.classification?.rpcId,
      usageInjected: call.usageInjected,
      maxBuffer: RESPONSE_BUFFER_MAX,
      bodies: this.bodies(call),
      clientGone: () => clientGone,
      responseDlp: {
        dlp: call.tenant!.dlp,
        agentId: call.agent!.id,
        enforce: call.tenant!.enforcement === 'enforce',
        hold: call.tenant!.streamHold,
        ...(call.tenant!.policies.response.length > 0 ? { judge: (findings: Finding[]) => this.judgeResponse(call, findings) } : {}),
      },
    }, response, (r) => {
      call.upstreamMs = performance.now() - call.upstreamStart!;
      call.responseBytes = r.bytes;
      call.stream = r.stream;
      call.usage = r.usage;
      call.responseStored = r.storedBody;
      call.responseOriginal = r.originalBody;
      if (r.status !== undefined) call.httpStatus = r.status;
      call.findings.push(...r.findings);
      if (r.refusal) return this.finish(call, 'DENIED', 'policy_denied');
      if (r.dlpBlocked) return this.finish(call, 'DLP_BLOCKED', 'dlp_blocked_response');
      this.judgeResponseFindings(call, r.findings);
      if (r.outcome === 'client_closed') return this.finish(call, call.status, 'client_closed');
      if (r.outcome === 'upstream_error') {
        this.log(call).warn({ err: r.error?.message }, 'upstream broke off mid-response');
        return this.finish(call, call.status, 'upstream_error');
      }
      return this.finish(call, call.status, call.httpStatus >= 500 ? 'upstream_error' : call.reason);
    });
  }

  /**
   * Sends the call to its upstream, then to the agent's fallbacks in order when an upstream
   * cannot be reached or answers 5xx — only ever before any byte went to the agent.
   * Undefined when the agent went away meanwhile.
   */
  private async send(call: Call, signal: EventEmitter, clientGone: () => boolean): Promise<Dispatcher.ResponseData | undefined> {
    const candidates = call.agent!.upstream ? [call.upstream!, ...call.agent!.fallbacks] : [call.upstream!];
    for (let i = 0; i < candidates.length; i++) {
      // The abort signal only reaches requests in flight: never start one for an agent that left.
      if (clientGone()) return undefined;
      const upstream = candidates[i]!;
      const last = i === candidates.length - 1;
      const target = upstreamTarget(upstream.url, call.path);
      let response: Dispatcher.ResponseData;
      try {
        response = await this.deps.upstreams.request(target.origin, {
          method: (call.req.method ?? 'GET') as Dispatcher.HttpMethod,
          path: target.path,
          headers: upstreamRequestHeaders(call.req.headers, upstream.headers, call.body.length),
          body: call.body.length > 0 ? call.body : null,
          signal,
        });
      } catch (err) {
        if (clientGone()) return undefined;
        if (last) throw upstreamFailure(err, upstream.url);
        this.log(call).warn({ upstream: new URL(upstream.url).origin, err: (err as Error).message }, 'upstream unreachable; trying the next fallback');
        continue;
      }
      if (response.statusCode >= 500 && !last) {
        this.log(call).warn({ upstream: new URL(upstream.url).origin, status: response.statusCode }, 'upstream answered 5xx; trying the next fallback');
        await response.body.dump().catch(() => {});
        continue;
      }
      call.upstream = upstream;
      return response;
    }
    return undefined;
  }

  private clientClosed(call: Call): void {
    call.upstreamMs = call.upstreamStart ? performance.now() - call.upstreamStart : null;
    if (!call.httpStatus) call.httpStatus = 499;
    void this.finish(call, call.status, 'client_closed');
  }

  private async fail(call: Call, err: unknown): Promise<void> {
    const e = isRenLayerError(err) ? err : null;
    if (!e) this.log(call).error({ err }, 'unexpected error in the proxy pipeline');
    const code = e?.code ?? 'internal_error';
    const status = e?.status ?? 500;
    const message = e?.message ?? 'internal error in the RenLayer proxy';
    call.httpStatus = status;
    if (!call.tenant) this.deps.metrics.unauthenticated.inc();
    // A call refused because the journal is full cannot be journalled either: writing its trace
    // would grow the journal past the bound the refusal exists to keep (SPEC §9).
    if (call.tenant && code !== 'trace_backlog_full') {
      const governance = code === 'invalid_request' || code === 'invalid_header' || code === 'payload_too_large'
        || code === 'rate_limit_exceeded' || code === 'policy_denied' || code === 'agent_disabled';
      if (code === 'dlp_blocked') await this.finish(call, 'DLP_BLOCKED', 'dlp_blocked_request');
      else await this.finish(call, governance ? 'DENIED' : call.status, code);
    }
    if (call.res.headersSent) {
      call.res.destroy();
      return;
    }
    const body = JSON.stringify(errorBody(call.dialect, { code, status, message, traceId: call.traceId, extra: e?.details },
      call.classification?.rpcId));
    const retryAfter = (e?.details?.limit as { retry_after_s?: number } | undefined)?.retry_after_s;
    if (retryAfter !== undefined) call.res.setHeader('retry-after', String(retryAfter));
    call.res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) });
    call.res.end(body);
  }

  /** Journals the trace; the response is completed once the promise settles (see TraceWriter.record). */
  private finish(call: Call, status: Status, reason: string | null): Promise<void> {
    if (!call.tenant) return JOURNALLED;
    call.status = status;
    call.reason = reason;
    const latency = performance.now() - call.started;
    const startedIso = new Date(call.startedAt).toISOString();
    const row: TraceRow = {
      id: call.traceId,
      tenant_id: call.tenant.id,
      agent_id: call.agent?.id ?? null,
      key_id: call.key?.id ?? null,
      end_user: call.user,
      session_id: attribution(call, startedIso),
      // Answered before the body was read: the path and the agent still say what it was.
      action_type: (call.classification ?? classify(call.req.method ?? 'GET', call.path, undefined, call.agent?.upstreamType ?? 'http')).actionType,
      provider: call.upstream?.type ?? call.agent?.upstreamType ?? null,
      upstream_url: call.upstream?.url ?? null,
      model: call.normalized?.model ?? null,
      method: call.req.method ?? 'GET',
      path: call.path.slice(0, 2048),
      status,
      reason,
      http_status: call.httpStatus,
      started_at: startedIso,
      ended_at: new Date(call.startedAt + latency).toISOString(),
      latency_ms: latency,
      overhead_ms: call.upstreamMs === null ? latency : Math.max(0, latency - call.upstreamMs),
      upstream_ms: call.upstreamMs,
      ttfb_ms: call.ttfbMs,
      tokens_in: call.usage?.inputTokens ?? null,
      tokens_out: call.usage?.outputTokens ?? null,
      cost_usd: call.usage ? call.tenant.prices.cost(call.normalized?.model ?? null, call.usage.inputTokens, call.usage.outputTokens) : null,
      policy_ids: call.policyIds,
      winning_policy_id: call.winningPolicyId,
      dlp_findings: call.findings.map((f) => ({ ...publicFinding(f), confidence: f.confidence, hash: f.hash, action: f.action })),
      rate_limit: call.limitStates,
      request_bytes: call.body.length,
      response_bytes: call.responseBytes,
      ...this.storedBodies(call, call.tenant),
      stream: call.stream,
      proxy_instance_id: this.deps.instanceId,
    };
    const journalled = this.deps.traces.record(row);
    // Token and cost budgets are charged with the real usage once it is known (SPEC §7).
    if (call.usage && call.limitRules.some((r) => r.dimension !== 'requests')) {
      void this.deps.limiter.charge(call.limitRules, this.limitSubject(call),
        { tokens: call.usage.inputTokens + call.usage.outputTokens, costUsd: row.cost_usd ?? 0 });
    }
    const m = this.deps.metrics;
    m.countRequest(status, row.action_type);
    if (row.overhead_ms !== null) m.overhead.observe(row.overhead_ms / 1000);
    if (row.upstream_ms !== null) m.upstream.observe(row.upstream_ms / 1000);
    if (reason === 'rate_limit_exceeded') m.rateLimited.inc();
    return journalled;
  }

  private readonly warnedNoKey = new Set<string>();

  /** What the tenant's traces keep of bodies; originals only when there is a key to seal them with. */
  private bodies(call: Call): BodyPolicy {
    if (call.bodies) return call.bodies;
    const tenant = call.tenant!;
    if (tenant.storeBodies === 'redacted_and_encrypted' && !this.deps.encryptionKey && !this.warnedNoKey.has(tenant.id)) {
      this.warnedNoKey.add(tenant.id);
      this.deps.log.warn({ tenant_id: tenant.id }, 'tenant stores encrypted original bodies but RENLAYER_ENCRYPTION_KEY is not set: storing redacted bodies only');
    }
    return (call.bodies = bodyPolicy(tenant.storeBodies, this.deps.encryptionKey, this.deps.traceBodyMaxBytes));
  }

  /** The trace's body columns (SPEC §9): redacted always, originals sealed when the tenant keeps them. */
  private storedBodies(call: Call, tenant: TenantEntry): Pick<TraceRow, 'request_body' | 'response_body' | 'request_body_enc' | 'response_body_enc'> {
    const policy = this.bodies(call);
    const seal = (direction: 'request' | 'response', raw: Buffer | undefined) =>
      policy.sealKey && raw && raw.length > 0 ? sealedBody(policy.sealKey, tenant.id, call.traceId, direction, raw, policy.maxBytes) : null;
    return {
      request_body: call.requestStored ?? null,
      response_body: policy.redacted ? call.responseStored ?? null : null,
      request_body_enc: seal('request', call.received),
      response_body_enc: seal('response', call.responseOriginal),
    };
  }

  private log(call: Call): Logger {
    return this.deps.log.child({ trace_id: call.traceId, tenant_id: call.tenant?.id, agent_id: call.agent?.id });
  }
}

function upstreamFailure(err: unknown, url: string): RenLayerError {
  const origin = new URL(url).origin;
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new RenLayerError('upstream_timeout', `the upstream ${origin} did not answer in time (RENLAYER_UPSTREAM_TIMEOUT_MS)`);
  }
  return new RenLayerError('upstream_unavailable', `cannot reach the upstream ${origin}: ${(err as Error).message}`);
}
