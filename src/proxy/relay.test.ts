import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import type { RenLayerError } from '../core/errors.js';
import { compileDlp, type Finding } from '../dlp/engine.js';
import { responseHold } from '../dlp/stream.js';
import { join } from '../dlp/detectors/shared.js';
import type { ApiKind } from '../dialects/index.js';
import { NO_BODIES } from './bodies.js';
import { relayResponse, type RelayResult } from './relay.js';

/** The part of a ServerResponse the relay uses, recording every write. */
function agentResponse() {
  const res = new EventEmitter() as EventEmitter & Record<string, unknown>;
  const writes: string[] = [];
  Object.assign(res, {
    headersSent: false, writableEnded: false, destroyed: false, statusCode: 0,
    writeHead(status: number) { res.statusCode = status; res.headersSent = true; return res; },
    flushHeaders() { res.headersSent = true; },
    write(chunk: Uint8Array | string) { writes.push(Buffer.from(chunk).toString()); return true; },
    end(chunk?: Uint8Array | string) { if (chunk) writes.push(Buffer.from(chunk).toString()); res.writableEnded = true; },
    destroy() { res.destroyed = true; },
  });
  return { res: res as unknown as ServerResponse, writes, text: () => writes.join('') };
}

const DLP = compileDlp({ overrides: {}, patterns: [], allow: [] }, 'salt');
const AWS = join('AKIAPKWXVY2', 'VALZGQ2LM');

/** Relays an SSE answer whose body arrives in `reads`, one chunk each. */
async function relay(api: ApiKind, reads: string[], judge?: (findings: Finding[]) => RenLayerError | null, dlp = DLP): Promise<{ result: RelayResult; text: string; writes: string[] }> {
  const agent = agentResponse();
  const upstream = {
    statusCode: 200,
    headers: { 'content-type': 'text/event-stream' },
    body: Readable.from(reads.map((r) => Buffer.from(r))),
  } as unknown as Dispatcher.ResponseData;
  const result = await relayResponse({
    res: agent.res, api, traceId: 'trc_test', dialect: 'openai', usageInjected: false, maxBuffer: 1 << 20,
    bodies: NO_BODIES, clientGone: () => false,
    responseDlp: { dlp, agentId: 'agt', enforce: true, hold: responseHold(dlp, { enforce: true, policies: false }), ...(judge ? { judge } : {}) },
  }, upstream, async () => {});
  return { result, text: agent.text(), writes: agent.writes };
}

const sse = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const chat = (content: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;

describe('relaySse', () => {
  it('scans a text that an upstream sends only whole, in its .done event, before any of it leaves', async () => {
    const item = { item_id: 'msg_1', output_index: 0, content_index: 0 };
    const { result, text } = await relay('openai_responses', [
      sse('response.created', { response: { id: 'resp_1', output: [] } }),
      sse('response.output_text.done', { ...item, text: `Here is the key: ${AWS} keep it safe.` }),
      sse('response.completed', { response: { id: 'resp_1', output: [] } }),
    ]);
    expect(result.dlpBlocked).toBe(true);
    expect(text).not.toContain(AWS);
    expect(result.findings.map((f) => f.class)).toContain('secret.aws_access_key');
  });

  it('scans text that follows a key\'s .done event: the key is held and judged again', async () => {
    const item = { item_id: 'msg_1', output_index: 0, content_index: 0 };
    const { result, text } = await relay('openai_responses', [
      sse('response.output_text.done', { ...item, text: 'Hi.' }),
      sse('response.output_text.delta', { ...item, delta: ` Here is the key: ${AWS} keep it safe.` }),
      sse('response.completed', { response: { id: 'resp_1', output: [] } }),
    ]);
    expect(result.dlpBlocked).toBe(true);
    expect(text).not.toContain(AWS);
  });

  it('scans a repeat that is not the text its deltas carried, and one that grows after the key ended', async () => {
    const item = { item_id: 'msg_1', output_index: 0, content_index: 0 };
    const harmless = 'Nothing to see in this perfectly harmless line.';
    const swapped = `key ${AWS} ${'x'.repeat(harmless.length - AWS.length - 5)}`;
    expect(swapped).toHaveLength(harmless.length);
    const differs = await relay('openai_responses', [
      sse('response.output_text.delta', { ...item, delta: harmless }),
      sse('response.output_text.done', { ...item, text: swapped }),
    ]);
    expect(differs.result.dlpBlocked).toBe(true);
    expect(differs.text).not.toContain(AWS);
    const grows = await relay('openai_responses', [
      sse('response.output_text.done', { ...item, text: 'Hi.' }),
      sse('response.output_text.done', { ...item, text: `Hi. The key is ${AWS}.` }),
    ]);
    expect(grows.result.dlpBlocked).toBe(true);
    expect(grows.text).not.toContain(AWS);
  });

  it('tells a long text\'s repeat from another text by the part it no longer holds', async () => {
    const item = { item_id: 'msg_1', output_index: 0, content_index: 0 };
    const prose = 'The release went out on time and every check passed in the pipeline. '.repeat(50);
    const deltas = prose.match(/.{1,100}/gs)!.map((delta) => sse('response.output_text.delta', { ...item, delta }));
    const same = await relay('openai_responses', [...deltas, sse('response.output_text.done', { ...item, text: prose })]);
    expect(same.result.dlpBlocked).toBe(false);
    expect(same.text).toBe([...deltas, sse('response.output_text.done', { ...item, text: prose })].join(''));
    const other = `Key ${AWS}.${prose.slice(AWS.length + 5)}`;
    expect(other).toHaveLength(prose.length);
    const swapped = await relay('openai_responses', [...deltas, sse('response.output_text.done', { ...item, text: other })]);
    expect(swapped.result.dlpBlocked).toBe(true);
    expect(swapped.text).not.toContain(AWS);
  });

  it('redacts a repeat that is not its deltas\' text by its own findings', async () => {
    const redacting = compileDlp({ overrides: {}, patterns: [], allow: [], actions: { MEDIUM: 'redact' } }, 'salt');
    const item = { item_id: 'msg_1', output_index: 0, content_index: 0 };
    const { result, text } = await relay('openai_responses', [
      sse('response.output_text.delta', { ...item, delta: 'Write to the team about it today.' }),
      sse('response.output_text.done', { ...item, text: 'Write to anna.berg@nordlicht-logistik.de about it.' }),
    ], undefined, redacting);
    expect(result.dlpBlocked).toBe(false);
    expect(text).not.toContain('anna.berg@nordlicht-logistik.de');
    expect(text).toContain('[REDACTED:pii.email]');
    // And a repeat with nothing of its own to redact is not cut by the deltas' redactions.
    const clean = await relay('openai_responses', [
      sse('response.output_text.delta', { ...item, delta: 'Write to anna.berg@nordlicht-logistik.de about the shipment today please.' }),
      sse('response.output_text.done', { ...item, text: 'Write to the whole team about the shipment.' }),
    ], undefined, redacting);
    expect(clean.text).toContain('"text":"Write to the whole team about the shipment."');
    expect(clean.text).not.toContain('anna.berg@nordlicht-logistik.de');
  });

  it('judges response-stage policies once per kind of finding, not once per finding', async () => {
    const judged: number[] = [];
    const addresses = Array.from({ length: 200 }, (_, i) => `Write to user${i}@example.org today.`).join(' ');
    const { result } = await relay('openai_chat', [chat(addresses), 'data: [DONE]\n\n'], (findings) => {
      judged.push(findings.length);
      return null;
    });
    expect(result.findings.filter((f) => f.class === 'pii.email')).toHaveLength(200);
    // The first event, then the first address: every later one is of a kind already judged.
    expect(judged).toEqual([0, 1]);
  });

  it('writes the events released together in one write, byte for byte as the upstream sent them', async () => {
    const events = ['The answer ', 'arrives ', 'in several ', 'events. '].map(chat);
    const { result, text, writes } = await relay('openai_chat', [events.join(''), 'data: [DONE]\n\n']);
    expect(result.findings).toEqual([]);
    expect(text).toBe(`${events.join('')}data: [DONE]\n\n`);
    // Every event of the first read but the last word's went out in one write.
    expect(writes.length).toBeLessThan(events.length);
  });
});
