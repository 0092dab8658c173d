import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { errorBody, streamErrorEvent, type Dialect } from '../dialects/errors.js';
import { SseParser, interpretEvent, responseTexts, serializeEvent, stripInjectedUsage, usageFromBody, type ApiKind, type SseEvent, type TextDelta, type Usage } from '../dialects/index.js';
import { decide, redactJson, scan, type CompiledDlp, type Finding } from '../dlp/engine.js';
import { updateAtPath } from '../dlp/redact.js';
import { STREAM_WINDOW, StreamScanner, type TailHold } from '../dlp/stream.js';
import { redactedJsonBody, streamedBody, type BodyPolicy } from './bodies.js';
import { agentResponseHeaders } from './http-headers.js';
import { joined, readBounded } from './read-bounded.js';
import { dlpRefusal } from './verdict.js';
import type { RenLayerError } from '../core/errors.js';

/**
 * Carries an upstream answer to the agent. Three ways, by what the answer is:
 * - SSE: parsed event by event as it flows (usage, response DLP with a bounded hold-back),
 *   unchanged events forwarded as their original bytes, never waiting for the end of the stream;
 * - JSON: read whole (bounded) so usage can be read and the body scanned before the agent gets it;
 * - anything else, or JSON too large to hold: piped through.
 * `beforeEnd` runs, and its promise settles, before the agent's response is completed, so the
 * trace is journalled first.
 */
export type RelayOutcome = 'complete' | 'upstream_error' | 'client_closed';

export type BeforeEnd = (r: RelayResult) => Promise<void>;

export interface RelayResult {
  outcome: RelayOutcome;
  bytes: number;
  usage: Usage | null;
  stream: boolean;
  error?: Error;
  /** The status the agent received when the relay answered in the upstream's place (502, 403). */
  status?: number;
  /** Response DLP findings, and whether they stopped the answer. */
  findings: Finding[];
  dlpBlocked: boolean;
  /** A response-stage policy withheld the answer. */
  refusal?: RenLayerError;
  /** The answer as the trace stores it (redacted), and the original bytes to seal; see bodies.ts. */
  storedBody?: string;
  originalBody?: Buffer;
}

/** Response DLP (SPEC §3 step 9): the tenant's set, and whether blocking findings block. */
export interface ResponseDlp {
  dlp: CompiledDlp;
  agentId: string;
  enforce: boolean;
  /**
   * Response-stage policies over the findings so far: a refusal withholds the answer. Absent
   * when the tenant has none, so the common case costs nothing.
   */
  judge?: (findings: Finding[]) => RenLayerError | null;
  /** What a stream's text waits for before it leaves (the tenant's, see `responseHold`); null: nothing. */
  hold: TailHold | null;
}

export interface RelayContext {
  res: ServerResponse;
  api: ApiKind;
  traceId: string;
  /** The dialect errors are written in, and the JSON-RPC id an MCP error answers. */
  dialect: Dialect;
  rpcId?: unknown;
  /** The proxy added stream_options.include_usage: remove what the agent did not ask for. */
  usageInjected: boolean;
  responseDlp: ResponseDlp;
  /** Largest JSON answer held in memory to read usage; larger ones are piped through. */
  maxBuffer: number;
  /** What the trace keeps of the answer. */
  bodies: BodyPolicy;
  clientGone(): boolean;
}

function writeOrWait(res: ServerResponse, chunk: Uint8Array | string): Promise<void> | undefined {
  if (res.write(chunk)) return undefined;
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function addUsage(into: Usage | null, part: Partial<Usage> | undefined): Usage | null {
  if (!part) return into;
  const u = into ?? { inputTokens: 0, outputTokens: 0 };
  // Streams report running totals (OpenAI once, Anthropic per message_delta): keep the largest.
  if (part.inputTokens !== undefined) u.inputTokens = Math.max(u.inputTokens, part.inputTokens);
  if (part.outputTokens !== undefined) u.outputTokens = Math.max(u.outputTokens, part.outputTokens);
  return u;
}

export async function relayResponse(
  ctx: RelayContext,
  upstream: Dispatcher.ResponseData,
  beforeEnd: BeforeEnd,
): Promise<RelayResult> {
  const type = String(upstream.headers['content-type'] ?? '');
  if (type.includes('text/event-stream')) return relaySse(ctx, upstream, beforeEnd);
  if (type.includes('json') && ctx.api !== 'http') return relayJson(ctx, upstream, beforeEnd);
  return relayRaw(ctx, upstream, [], 0, beforeEnd);
}

async function relayRaw(
  ctx: RelayContext,
  upstream: Dispatcher.ResponseData,
  already: Buffer[],
  alreadyBytes: number,
  beforeEnd: BeforeEnd,
  headersSent = false,
): Promise<RelayResult> {
  const { res } = ctx;
  const result: RelayResult = { outcome: 'complete', bytes: alreadyBytes, usage: null, stream: false, findings: [], dlpBlocked: false };
  if (!headersSent) res.writeHead(upstream.statusCode, agentResponseHeaders(upstream.headers, true));
  try {
    for (const chunk of already) await writeOrWait(res, chunk);
    for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
      result.bytes += chunk.length;
      await writeOrWait(res, chunk);
      if (ctx.clientGone()) break;
    }
  } catch (err) {
    result.outcome = ctx.clientGone() ? 'client_closed' : 'upstream_error';
    result.error = err as Error;
  }
  if (ctx.clientGone()) result.outcome = 'client_closed';
  await beforeEnd(result);
  // A body cut short must look cut short: no clean end the agent could mistake for success.
  if (result.outcome === 'complete') res.end();
  else res.destroy();
  return result;
}

async function relayJson(ctx: RelayContext, upstream: Dispatcher.ResponseData, beforeEnd: BeforeEnd): Promise<RelayResult> {
  const read = await readBounded(upstream.body, ctx.maxBuffer, ctx.clientGone);
  const size = read.size;
  // Too large to hold: forward what we have and pipe the rest.
  if (!read.ended && !read.error && !ctx.clientGone()) return relayRaw(ctx, upstream, read.chunks, size, beforeEnd);
  if (read.error) {
    const outcome: RelayOutcome = ctx.clientGone() ? 'client_closed' : 'upstream_error';
    // Nothing reached the agent yet: the failure can be answered properly.
    const answer502 = !ctx.res.headersSent && outcome === 'upstream_error';
    const result: RelayResult = { outcome, bytes: size, usage: null, stream: false, findings: [], dlpBlocked: false, error: read.error, ...(answer502 ? { status: 502 } : {}) };
    await beforeEnd(result);
    if (answer502) {
      ctx.res.writeHead(502, { 'content-type': 'application/json' });
      ctx.res.end(JSON.stringify(errorBody(ctx.dialect,
        { code: 'upstream_error', status: 502, message: 'the upstream broke off its answer', traceId: ctx.traceId }, ctx.rpcId)));
    } else {
      ctx.res.destroy();
    }
    return result;
  }
  const original = joined(read);
  let body = original;
  let usage: Usage | null = null;
  let parsed: unknown;
  const text = body.toString('utf8');
  try {
    parsed = JSON.parse(text);
    usage = usageFromBody(ctx.api, parsed);
  } catch {
    // Not JSON after all: forwarded unchanged, without usage.
  }
  const result: RelayResult = { outcome: ctx.clientGone() ? 'client_closed' : 'complete', bytes: size, usage, stream: false, findings: [], dlpBlocked: false };
  const headers = agentResponseHeaders(upstream.headers, false);
  if (ctx.bodies.sealKey) result.originalBody = original;
  if (parsed !== undefined && upstream.statusCode < 400) {
    // The whole answer is here: scan it before the agent sees a byte of it.
    result.findings = scan(ctx.responseDlp.dlp, responseTexts(ctx.api, parsed), 'response', ctx.responseDlp.agentId);
    if (ctx.bodies.redacted) result.storedBody = redactedJsonBody(parsed, text, result.findings, ctx.bodies.maxBytes);
    const decision = decide(result.findings);
    const blocked = decision.blocked && ctx.responseDlp.enforce;
    const refusal = blocked ? null : ctx.responseDlp.judge?.(result.findings) ?? null;
    if (blocked || refusal) {
      const answer = refusal ?? dlpRefusal(result.findings, 'response');
      result.dlpBlocked = blocked;
      if (refusal) result.refusal = refusal;
      result.status = answer.status;
      await beforeEnd(result);
      if (result.outcome === 'client_closed') return result;
      const text = JSON.stringify(errorBody(ctx.dialect, { code: answer.code, status: answer.status, traceId: ctx.traceId, message: answer.message, extra: answer.details }, ctx.rpcId));
      ctx.res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      ctx.res.end(text);
      return result;
    }
    if (decision.redact.length > 0) body = Buffer.from(JSON.stringify(redactJson(parsed, decision.redact)));
  } else if (parsed !== undefined && ctx.bodies.redacted) {
    // An error answer is not judged, but may quote the request: stored redacted all the same.
    const findings = scan(ctx.responseDlp.dlp, responseTexts(ctx.api, parsed), 'response', ctx.responseDlp.agentId);
    result.storedBody = redactedJsonBody(parsed, text, findings, ctx.bodies.maxBytes);
  }
  await beforeEnd(result);
  if (result.outcome === 'client_closed') return result;
  headers['content-length'] = String(body.length);
  ctx.res.writeHead(upstream.statusCode, headers);
  ctx.res.end(body);
  return result;
}

/** How long an upstream may keep a stream open after its end-of-answer event. */
const FINAL_GRACE_MS = 1_000;

/** The next chunk, or null when none came within FINAL_GRACE_MS. */
async function withinGrace<T>(next: Promise<T>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), FINAL_GRACE_MS);
  });
  // The read left behind when the grace ends fails once the body is destroyed: nobody waits for it.
  next.catch(() => {});
  try {
    return await Promise.race([next, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** An SSE event waiting for its text to be a window behind the newest; `data` is what it forwards. */
interface HeldEvent {
  ev: SseEvent;
  data: string;
  /** The dialect's end of answer ([DONE], message_stop …): an SDK stops reading at it. */
  final: boolean;
  deltas: { key: string; path: string; start: number; end: number }[];
  echoes: TextDelta[];
}

/** The bytes of a held event: the original ones, unless usage was stripped or text redacted. */
function redactEvent(scanner: StreamScanner, h: HeldEvent): Uint8Array {
  const rewrite = h.deltas.some((d) => scanner.redacts(d.key, d.start, d.end)) || h.echoes.some((e) => scanner.rewritesWhole(e.stream, e.value));
  if (!rewrite) return h.data === h.ev.data ? h.ev.raw : serializeEvent({ event: h.ev.event, data: h.data, id: h.ev.id });
  let json: unknown = JSON.parse(h.data);
  const asText = (fn: (v: string) => string) => (v: unknown) => (typeof v === 'string' ? fn(v) : undefined);
  for (const d of h.deltas) json = updateAtPath(json, d.path, asText((v) => scanner.rewrite(d.key, d.start, v)));
  for (const e of h.echoes) json = updateAtPath(json, e.path, asText((v) => scanner.rewriteWhole(e.stream, v)));
  return serializeEvent({ event: h.ev.event, data: JSON.stringify(json), id: h.ev.id });
}

async function relaySse(ctx: RelayContext, upstream: Dispatcher.ResponseData, beforeEnd: BeforeEnd): Promise<RelayResult> {
  const { res } = ctx;
  const result: RelayResult = { outcome: 'complete', bytes: 0, usage: null, stream: true, findings: [], dlpBlocked: false };
  // The body may be rewritten (usage chunk removed), so its length is the transfer's business.
  res.writeHead(upstream.statusCode, agentResponseHeaders(upstream.headers, false));
  // The headers go out with the first event when it came with them (one write, as the upstream
  // sent them; flushed on their own they made the agent's first byte wait for a second write),
  // and on their own at the end of this turn otherwise, so an agent waiting for a slow first
  // token, or for text held back, has its response at once.
  let wrote = false;
  setImmediate(() => {
    if (!wrote && !res.writableEnded && !res.destroyed) res.flushHeaders();
  });
  const parser = new SseParser();
  const { dlp, hold } = ctx.responseDlp;
  const scanner = new StreamScanner(dlp, ctx.responseDlp.agentId, STREAM_WINDOW, ctx.bodies.redacted ? ctx.bodies.maxBytes : 0, hold);
  const raw: Buffer[] = [];
  let rawBytes = 0;
  // Every way out judges what is left and records the bodies for the trace first.
  const settle = () => {
    scanner.end();
    judge();
    result.findings = scanner.findings;
    if (ctx.bodies.redacted) result.storedBody = streamedBody(scanner.recordedTexts(), ctx.bodies.maxBytes);
    if (ctx.bodies.sealKey) result.originalBody = Buffer.concat(raw, rawBytes);
  };
  // Events wait here until none of their text can still be the beginning of a value that could
  // stop or rewrite the stream (see responseHold): a secret split across events is seen whole
  // before any of it leaves.
  const held: HeldEvent[] = [];
  let finished = false;
  // Response-stage policies are judged on the first event, then on the findings so far each time
  // one is added (not once per read): the first policy matching by priority wins, so a later
  // finding could otherwise hide an earlier one's refusal. A policy reads of a finding only its
  // class, severity and direction, and asks whether some finding matches: one of a kind already
  // judged changes nothing, so an answer full of addresses is judged once, not once per address.
  let refusal: RenLayerError | null = null;
  let judged = -1;
  const judgedKinds = new Set<string>();
  const judge = () => {
    if (!ctx.responseDlp.judge) return;
    if (judged < 0) {
      judged = 0;
      refusal = ctx.responseDlp.judge([]);
    }
    while (refusal === null && judged < scanner.findings.length) {
      const f = scanner.findings[judged++]!;
      const kind = `${f.class} ${f.severity} ${f.direction}`;
      if (judgedKinds.has(kind)) continue;
      judgedKinds.add(kind);
      refusal = ctx.responseDlp.judge(scanner.findings.slice(0, judged));
    }
  };
  const dlpBlocked = () => ctx.responseDlp.enforce && scanner.blocking().length > 0;
  const blocked = () => dlpBlocked() || refusal !== null;
  // The end-of-answer event waits for `withFinal`: an SDK reads it as the end and may send its
  // next call at once, which must find this one traced and charged to its budgets.
  // What is released together goes out in one write: one system call, as the upstream's read was.
  const release = async (all: boolean, withFinal = false) => {
    const out: Uint8Array[] = [];
    while (held.length > 0) {
      const h = held[0]!;
      if (h.final && !withFinal) break;
      if (!all && !h.deltas.every((d) => d.end <= scanner.releasable(d.key))) break;
      held.shift();
      out.push(redactEvent(scanner, h));
    }
    if (out.length === 0) return;
    wrote = true;
    await writeOrWait(res, out.length === 1 ? out[0]! : Buffer.concat(out));
  };
  // The events that came in one read are scanned together (one scan per key rather than per
  // event), then judged and held; when they stop the stream, none of them leaves.
  const forward = async (events: ReturnType<SseParser['push']>) => {
    const items: { ev: SseEvent; final: boolean; deltas: HeldEvent['deltas']; echoes: TextDelta[] }[] = [];
    let texts: TextDelta[] = [];
    let owners: HeldEvent['deltas'][] = [];
    const scanPending = () => {
      if (texts.length === 0) return;
      scanner.push(texts).forEach(({ key, end }, i) => {
        owners[i]!.push({ key, end, start: end - texts[i]!.value.length, path: texts[i]!.path });
      });
      texts = [];
      owners = [];
    };
    for (const ev of events) {
      const seen = interpretEvent(ctx.api, ev);
      result.usage = addUsage(result.usage, seen.usage);
      if (seen.done) finished = true;
      const item = { ev, final: seen.done === true, deltas: [] as HeldEvent['deltas'], echoes: seen.echoes ?? [] };
      items.push(item);
      for (const t of seen.texts ?? []) {
        texts.push(t);
        owners.push(item.deltas);
      }
      // A repeat of a key's whole text means the key is complete: the repeat is scanned where
      // it is not the deltas' text (see StreamScanner.echo), then the key's tail is judged now.
      if (item.echoes.length > 0) {
        scanPending();
        for (const echo of item.echoes) scanner.echo(echo);
        for (const echo of item.echoes) scanner.endKey(echo.stream);
      }
    }
    scanPending();
    judge();
    if (blocked()) return;
    for (const { ev, final, deltas, echoes } of items) {
      const data = ctx.usageInjected && !ev.comment ? stripInjectedUsage(ev.data) : ev.data;
      if (data !== null) held.push({ ev, data, final, deltas, echoes });
    }
    await release(false);
  };
  const chunks = (upstream.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  try {
    for (;;) {
      // After the end-of-answer event the upstream should close at once; one that keeps the
      // response open is not waited for (the agent waits for that event, which we hold).
      const next = finished ? await withinGrace(chunks.next()) : await chunks.next();
      if (next === null || next.done) break;
      const chunk = next.value;
      result.bytes += chunk.length;
      if (ctx.bodies.sealKey && rawBytes < ctx.bodies.maxBytes) {
        raw.push(chunk);
        rawBytes += chunk.length;
      }
      await forward(parser.push(chunk));
      if (ctx.clientGone() || blocked()) break;
    }
    if (!blocked() && !ctx.clientGone()) {
      await forward(parser.end());
      scanner.end();
      judge();
      if (!blocked()) await release(true);
    }
  } catch (err) {
    result.outcome = 'upstream_error';
    result.error = err as Error;
  }
  // Left early (the agent gone, the answer stopped, an upstream lingering past its end, a
  // failure): the upstream is not read further.
  if (!upstream.body.readableEnded && !upstream.body.destroyed) upstream.body.destroy();
  settle();
  if (ctx.clientGone()) {
    result.outcome = 'client_closed';
    await beforeEnd(result);
    return result;
  }
  if (blocked()) {
    // Nothing of the value was released; the agent gets a failure in its dialect, and the
    // upstream is not read further.
    result.dlpBlocked = dlpBlocked();
    const stop: RenLayerError = result.dlpBlocked
      ? dlpRefusal(scanner.findings, 'response')
      : refusal!;
    if (!result.dlpBlocked) result.refusal = stop;
    await beforeEnd(result);
    res.end(streamErrorEvent(ctx.api, { code: stop.code, status: stop.status, traceId: ctx.traceId, message: stop.message, extra: stop.details }));
    return result;
  }
  if (result.outcome === 'upstream_error') {
    // What was held back is released first: it passed the scan; then the failure.
    await release(true);
    await beforeEnd(result);
    await release(true, true);
    // The agent must see a failure in its own dialect, never a clean-looking end.
    res.end(streamErrorEvent(ctx.api, {
      code: 'upstream_error', status: 502, traceId: ctx.traceId,
      message: `the upstream broke off the stream${finished ? ' after its last event' : ''}`,
    }));
    return result;
  }
  await beforeEnd(result);
  await release(true, true);
  res.end();
  return result;
}
