import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { RenLayerError } from '../core/errors.js';
import { isRetryableError, type Database } from '../db/database.js';
import { Journal, type Segment } from './journal.js';
import { COPY_TRACES, copyLine, headerColumns, joinedBytes, JOURNAL_HEADER, rowFromCopyLine, TRACE_COLUMNS } from './trace-copy.js';

/** One row of renlayer.traces; every column present (jsonb_populate_recordset ignores defaults). */
export interface TraceRow {
  id: string;
  tenant_id: string;
  agent_id: string | null;
  key_id: string | null;
  end_user: string | null;
  session_id: string | null;
  action_type: string;
  provider: string | null;
  upstream_url: string | null;
  model: string | null;
  method: string;
  path: string;
  status: 'ALLOWED' | 'FLAGGED' | 'DENIED' | 'DLP_BLOCKED' | 'DLP_WARNED';
  reason: string | null;
  http_status: number;
  started_at: string;
  ended_at: string;
  latency_ms: number;
  overhead_ms: number | null;
  upstream_ms: number | null;
  ttfb_ms: number | null;
  tokens_in: number | null;
  tokens_out: number | null;
  cost_usd: number | null;
  policy_ids: string[];
  winning_policy_id: string | null;
  dlp_findings: unknown[];
  rate_limit: unknown;
  request_bytes: number | null;
  response_bytes: number | null;
  request_body: string | null;
  response_body: string | null;
  request_body_enc: string | null;
  response_body_enc: string | null;
  stream: boolean;
  proxy_instance_id: string | null;
}

const INSERT = `INSERT INTO renlayer.traces
  SELECT * FROM jsonb_populate_recordset(NULL::renlayer.traces, $1::jsonb)
  ON CONFLICT DO NOTHING`;

/**
 * A row's line as the INSERT's JSON: a COPY line (its fields named by `columns`), or a JSON line
 * (an earlier version's journal) checked whole; null for a line that is neither.
 */
function insertJson(line: string, columns: readonly string[] = TRACE_COLUMNS): string | null {
  if (line.startsWith('{')) {
    try {
      JSON.parse(line);
      return line;
    } catch {
      return null;
    }
  }
  const row = rowFromCopyLine(line.endsWith('\n') ? line.slice(0, -1) : line, columns);
  return row && JSON.stringify(row);
}

/**
 * A row waiting for the database, as what it is written with: its COPY line's bytes (also what
 * the journal holds), or its JSON where the database has no COPY; and the journal segment that
 * holds it meanwhile. Bytes rather than the row or its text: a row waits a flush interval, long
 * enough to outlive the young generation, and a Buffer's bytes are off the JS heap, so the
 * collector moves a small handle instead of kilobytes of string per call.
 */
interface Pending {
  line: Buffer | string;
  /** Null when the journal could not take the row (the disk refused; logged). */
  segment: Segment | null;
}

/** A queued row as the INSERT's JSON (a COPY line from copyLine always reads back whole). */
function queuedJson(p: Pending): string {
  return typeof p.line === 'string' ? p.line : insertJson(p.line.toString())!;
}

export interface TraceWriterOptions {
  spoolDir: string;
  maxJournalBytes: number;
  flushIntervalMs?: number;
  batchRows?: number;
  retryIntervalMs?: number;
  /**
   * Most rows held in memory for the database. Past it (the database slower than the traffic)
   * new rows stay in the journal only and are replayed from disk once the queue has drained, so
   * memory stays bounded and nothing is lost.
   */
  maxQueueRows?: number;
}

/**
 * Writes traces off the request path. record() journals the row (at the end of the turn) and
 * queues it; a timer writes queued rows in batches. While PostgreSQL is unreachable the writer
 * stops writing from memory and lets the journal hold everything; when the database answers
 * again it replays the closed segments (ON CONFLICT DO NOTHING on the primary key, so a row
 * already written before the outage is not written twice) and goes back to batching from memory.
 */
export class TraceWriter {
  private queue: Pending[] = [];
  private readonly journal: Journal;
  /** Rows of each segment not yet in the database; a closed segment at zero is deleted. */
  private readonly unwritten = new Map<Segment, number>();
  /** Closed segments whose rows must come from disk (outage or an earlier process). */
  private readonly toReplay: Segment[] = [];
  private outage = false;
  /** New rows go by COPY where the database has it, until it says it has not. */
  private copy: boolean;
  /** The queue overflowed: rows since then are on disk only, replayed when it drains. */
  private spilled = false;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private lastRetry = 0;
  private readonly flushIntervalMs: number;
  private readonly batchRows: number;
  private readonly retryIntervalMs: number;
  private readonly rotateBytes: number;
  private readonly maxQueueRows: number;
  written = 0;
  replayed = 0;

  constructor(
    private readonly db: Database,
    private readonly log: Logger,
    private readonly opts: TraceWriterOptions,
  ) {
    this.journal = new Journal(opts.spoolDir, opts.maxJournalBytes, {
      header: JOURNAL_HEADER,
      onWriteError: (err, lines) => {
        this.log.error({ err: err.message, lines }, 'could not write trace rows to the journal: they reach the database from memory only, and are lost if it is unreachable too');
      },
    });
    this.flushIntervalMs = opts.flushIntervalMs ?? 100;
    this.batchRows = opts.batchRows ?? 500;
    this.retryIntervalMs = opts.retryIntervalMs ?? 1_000;
    this.maxQueueRows = opts.maxQueueRows ?? 20_000;
    this.copy = db.copyFrom !== undefined;
    // Written rows still count against the bound until their segment is rotated away, so the
    // segment must be rotated well before the bound, however small it is configured.
    this.rotateBytes = Math.min(1024 * 1024, Math.floor(opts.maxJournalBytes / 4));
  }

  start(): void {
    this.toReplay.push(...this.journal.claimOrphans());
    if (this.toReplay.length > 0) this.log.info({ segments: this.toReplay.length }, 'replaying trace journal left by an earlier process');
    this.timer = setInterval(() => void this.flush(), this.flushIntervalMs);
    this.timer.unref();
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  get journalBytes(): number {
    return this.journal.bytes;
  }

  get inOutage(): boolean {
    return this.outage;
  }

  /** Thrown before a call is served when its trace could not be kept (SPEC §9). */
  assertCapacity(): void {
    if (this.journal.full) {
      throw new RenLayerError('trace_backlog_full',
        'the trace journal is full while the database is unreachable; retry later');
    }
  }

  /**
   * Journals the row and queues it for the database. Durable (in the page cache) once the
   * promise settles, at the end of this turn of the event loop: wait for it before completing
   * the response. The promise never rejects; a write the disk refuses is logged, and a row the
   * journal could not take waits in the queue whatever happens (memory is its only copy).
   */
  record(row: TraceRow): Promise<void> {
    const line = copyLine(row);
    const segment = this.journal.append(line);
    if (segment) this.unwritten.set(segment, (this.unwritten.get(segment) ?? 0) + 1);
    if (segment && (this.outage || this.spilled)) return this.journal.written();
    if (segment && this.queue.length >= this.maxQueueRows) {
      this.spilled = true;
      this.log.warn({ queued: this.queue.length }, 'traces arrive faster than the database takes them; new rows wait in the journal');
      return this.journal.written();
    }
    if (!segment && this.queue.length >= this.maxQueueRows) {
      // Neither the disk nor the database takes rows, and memory is full.
      this.log.error({ trace_id: row.id }, 'trace lost: the journal cannot be written and the database queue is full');
      return this.journal.written();
    }
    this.queue.push({ line: this.copy ? line : JSON.stringify(row), segment });
    return this.journal.written();
  }

  flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    this.journal.sync();
    if (this.outage) {
      if (Date.now() - this.lastRetry < this.retryIntervalMs) return;
      this.lastRetry = Date.now();
      try {
        await this.db.query('SELECT 1');
      } catch {
        return;
      }
      this.log.info({ journal_bytes: this.journal.bytes }, 'database reachable again; replaying trace journal');
      this.outage = false;
      // Rows journalled during the outage were never queued: they come back from disk.
      this.replayFromDisk();
    }
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, this.batchRows);
      const written = this.copy
        ? await this.copyNew(joinedBytes(batch.map((p) => p.line as Buffer)))
        : await this.store(batch.map((p) => p.line as string));
      if (this.outage) return;
      // Not written: the queue was dropped for the journal's replay (below), or re-encoded for the INSERT.
      if (!written) continue;
      this.queue.splice(0, batch.length);
      this.written += batch.length;
      for (const p of batch) this.settle(p.segment, 1);
    }
    // The backlog is written: what overflowed comes back from disk (rows written twice are
    // ignored by the primary key).
    if (this.spilled) {
      this.spilled = false;
      this.replayFromDisk();
    }
    // Keep the journal small while the database keeps up: a closed segment whose rows are
    // all written is deleted at once.
    if (this.journal.currentBytes > this.rotateBytes) this.rotate();
    await this.replay();
  }

  private async replay(): Promise<void> {
    while (this.toReplay.length > 0) {
      const seg = this.toReplay[0]!;
      const rows = this.replayLines(seg);
      for (let i = 0; i < rows.length; i += this.batchRows) {
        if (!(await this.store(rows.slice(i, i + this.batchRows)))) return;
      }
      this.replayed += rows.length;
      this.toReplay.shift();
      this.unwritten.delete(seg);
      this.journal.remove(seg);
    }
  }

  /**
   * A segment's rows as JSON for the INSERT. Its lines are COPY text, named by the segment's
   * header; journals of earlier versions hold JSON lines, replayed as they are. A line that is
   * neither (damaged) is kept in the rejects file, like a row the database refuses.
   */
  private replayLines(seg: Segment): string[] {
    const rows: string[] = [];
    let columns: readonly string[] = TRACE_COLUMNS;
    for (const line of Journal.readLines(seg)) {
      const header = headerColumns(line);
      if (header) {
        columns = header;
        continue;
      }
      const json = insertJson(line, columns);
      if (json) rows.push(json);
      else this.reject(JSON.stringify({ unreadable_journal_line: line, segment: seg.path }), 'unreadable line in the trace journal; kept in the rejects file');
    }
    return rows;
  }

  /**
   * Rows from memory, written for the first time, by COPY. A COPY has no ON CONFLICT and is all
   * or nothing: when one fails, the journal (which holds every queued row) is replayed instead,
   * by the INSERT that skips rows already there and sets aside a row the database refuses. Rows
   * the journal could not take go to that INSERT from memory. False when the batch was not written.
   */
  private async copyNew(lines: Buffer): Promise<boolean> {
    try {
      await this.db.copyFrom!(COPY_TRACES, lines);
      return true;
    } catch (err) {
      if (isRetryableError(err)) {
        this.enterOutage(err);
        return false;
      }
      if ((err as { code?: unknown }).code === '0A000') {
        // feature_not_supported: a PostgreSQL-compatible database without COPY (the embedded
        // one, over its socket). The queue stays, as the INSERT's JSON.
        this.copy = false;
        this.log.info('the database does not take COPY; trace rows are inserted');
        for (const p of this.queue) p.line = queuedJson(p);
        return false;
      }
      this.log.warn({ err: (err as Error).message }, 'the database refused a COPY of trace rows; writing them from the journal');
      const unjournalled = this.queue.filter((p) => p.segment === null).map(queuedJson);
      this.queue = [];
      this.replayFromDisk();
      if (unjournalled.length > 0) await this.store(unjournalled);
      return false;
    }
  }

  /** Inserts JSON rows; false when the database is unreachable (the writer is then in outage mode). */
  private async store(rows: string[]): Promise<boolean> {
    try {
      await this.insert(rows);
      return true;
    } catch (err) {
      let failure = err;
      if (!isRetryableError(err)) {
        try {
          await this.insertOneByOne(rows);
          return true;
        } catch (again) {
          failure = again;
        }
      }
      this.enterOutage(failure);
      return false;
    }
  }

  /** Memory is the only copy of a row the journal could not take: it waits out an outage in the queue. */
  private enterOutage(err: unknown): void {
    this.log.warn({ err: (err as Error).message, queued: this.queue.length },
      'database unreachable (or refusing for now); traces go to the journal until it takes them');
    this.outage = true;
    this.lastRetry = Date.now();
    // Everything else queued is already on disk; from now on the journal is the only copy. What
    // stays gets bytes of its own, rather than keep a whole slab alive for the outage.
    this.queue = this.queue.filter((p) => p.segment === null).map((p) => ({ ...p, line: typeof p.line === 'string' ? p.line : Buffer.from(p.line) }));
    this.replayFromDisk();
  }

  /** Every segment with rows not known to be written is closed and read back from disk. */
  private replayFromDisk(): void {
    this.journal.rotate();
    for (const seg of this.unwritten.keys()) if (!this.toReplay.includes(seg)) this.toReplay.push(seg);
    this.toReplay.sort((a, b) => a.path.localeCompare(b.path));
  }

  private settle(seg: Segment | null, n: number): void {
    if (!seg) return;
    const left = (this.unwritten.get(seg) ?? 0) - n;
    if (left > 0 || this.journal.isCurrent(seg)) {
      this.unwritten.set(seg, Math.max(0, left));
      return;
    }
    this.unwritten.delete(seg);
    if (!this.toReplay.includes(seg)) this.journal.remove(seg);
  }

  /** Rows as JSON texts, sent as one JSON array. */
  private async insert(rows: string[]): Promise<void> {
    await this.db.query(INSERT, [rows.length === 1 ? `[${rows[0]}]` : `[${rows.join(',')}]`]);
  }

  /**
   * A batch the database rejects for its content (not its reachability) is split so one bad row
   * cannot hold back the rest; a row refused on its own is kept in a rejects file, never dropped.
   */
  private async insertOneByOne(rows: string[]): Promise<void> {
    for (const row of rows) {
      try {
        await this.insert([row]);
      } catch (err) {
        if (isRetryableError(err)) throw err;
        this.reject(row, 'trace row rejected by the database; kept in the rejects file', { trace_id: (JSON.parse(row) as TraceRow).id, err: (err as Error).message });
      }
    }
  }

  /** Keeps a line nobody could write in `rejected.ndjson` in the spool directory, and says so. */
  private reject(line: string, message: string, context: Record<string, unknown> = {}): void {
    this.log.error(context, message);
    try {
      appendFileSync(join(this.opts.spoolDir, 'rejected.ndjson'), line + '\n', { mode: 0o600 });
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'could not write the rejects file');
    }
  }

  /** Ends the current segment so its rows can be cleaned up; used on a timer and at shutdown. */
  rotate(): void {
    const closed = this.journal.rotate();
    if (closed && (this.unwritten.get(closed) ?? 0) === 0 && !this.toReplay.includes(closed)) {
      this.unwritten.delete(closed);
      this.journal.remove(closed);
    }
  }

  /** Drains the queue (clean shutdown). What the database did not take stays journalled. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
    if (this.queue.length === 0 && !this.outage) this.rotate();
    this.journal.close();
  }
}
