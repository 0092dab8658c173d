import type { IncomingHttpHeaders } from 'node:http';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** UTF-8 text of the body, cut at MAX_BODY_BYTES. */
  body: string;
  /** Size of the whole body, so a test can check a large upload arrived complete. */
  bodyBytes: number;
}

const MAX_ENTRIES = 200;
/** Stored bodies are capped so 200 large benchmark requests cannot pin gigabytes. */
const MAX_BODY_BYTES = 1 << 20;

interface Entry {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  bodyBytes: number;
}

/**
 * The last requests the mock received, for tests to assert what the proxy forwarded. Recording
 * keeps a reference to the body buffer; decoding waits until someone asks.
 */
export class Recorder {
  private entries: Entry[] = [];

  record(method: string, url: string, headers: IncomingHttpHeaders, body: Buffer): void {
    // A subarray would keep the whole large buffer alive, so large bodies are copied down.
    const kept = body.length > MAX_BODY_BYTES ? Buffer.from(body.subarray(0, MAX_BODY_BYTES)) : body;
    this.entries.push({ method, url, headers, body: kept, bodyBytes: body.length });
    if (this.entries.length > MAX_ENTRIES) this.entries.shift();
  }

  list(): RecordedRequest[] {
    return this.entries.map((e) => ({ method: e.method, url: e.url, headers: e.headers, body: e.body.toString('utf8'), bodyBytes: e.bodyBytes }));
  }

  clear(): void {
    this.entries = [];
  }
}
