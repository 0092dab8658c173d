import type { ServerResponse } from 'node:http';
import type { RequestOptions } from './options.js';

/**
 * An answer as data. Dialect modules build one, this module puts it on the wire, applying the
 * pacing and fault injection the request asked for, so no dialect has to know about either.
 */
export type Reply =
  | { kind: 'json'; status: number; body: unknown; headers?: Record<string, string> }
  | {
      kind: 'sse';
      /** Frames sent before the content, e.g. the role chunk or message_start. */
      head: string[];
      /** Content frames, paced by chunkDelayMs and counted by x-mock-chunks. */
      deltas: string[];
      /** Frames closing the stream: finish reason, usage, [DONE]. */
      tail: string[];
      headers?: Record<string, string>;
    }
  | { kind: 'empty'; status: number; headers?: Record<string, string> };

/** A request the mock refuses; the server turns it into a 400 in the caller's dialect. */
export class BadRequest extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return headers ? { kind: 'json', status, body, headers } : { kind: 'json', status, body };
}

export function dataFrame(obj: unknown): string {
  return `data: ${JSON.stringify(obj)}\n\n`;
}

export function eventFrame(event: string, obj: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(obj)}\n\n`;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

function gone(res: ServerResponse): boolean {
  return res.destroyed || res.writableEnded;
}

/** Cuts after the bytes already written reach the socket, so the client really sees a partial answer. */
function cutAfter(res: ServerResponse, data: string | Buffer): void {
  res.write(data, () => res.destroy());
}

export function writeReply(res: ServerResponse, reply: Reply, opts: RequestOptions): void {
  if (gone(res)) return;
  const cut = opts.fail === 'cut';
  if (reply.kind === 'json') {
    const body = Buffer.from(JSON.stringify(reply.body));
    res.writeHead(reply.status, { ...reply.headers, 'content-type': 'application/json', 'content-length': body.length });
    if (cut) cutAfter(res, body.subarray(0, body.length >> 1));
    else res.end(body);
    return;
  }
  if (reply.kind === 'empty') {
    res.writeHead(reply.status, { ...reply.headers, 'content-length': 0 });
    if (cut) res.destroy();
    else res.end();
    return;
  }
  res.writeHead(200, reply.headers ? { ...reply.headers, ...SSE_HEADERS } : SSE_HEADERS);
  const { head, deltas, tail } = reply;
  // A cut stream stops halfway through the content, after at least one delta when there is one.
  const upTo = cut ? Math.max(1, deltas.length >> 1) : deltas.length;
  if (opts.chunkDelayMs <= 0 || deltas.length <= 1) {
    const sent = head.concat(deltas.slice(0, upTo));
    if (cut) cutAfter(res, sent.join(''));
    else res.end(sent.concat(tail).join(''));
    return;
  }
  res.write(head.join('') + (deltas[0] as string));
  let i = 1;
  const next = (): void => {
    if (gone(res)) return;
    if (i >= upTo) {
      if (cut) res.destroy();
      else res.end(tail.join(''));
      return;
    }
    res.write(deltas[i++] as string);
    if (i >= upTo && !cut) res.end(tail.join(''));
    else setTimeout(next, opts.chunkDelayMs).unref();
  };
  setTimeout(next, opts.chunkDelayMs).unref();
}
