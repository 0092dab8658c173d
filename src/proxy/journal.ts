import { close, closeSync, fsync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../core/process.js';
import { joinedBytes } from './trace-copy.js';

/**
 * The trace journal: append-only segment files in the spool directory, one line per trace (its
 * COPY text: see trace-copy.ts). Every trace is written here (into the page cache) before its
 * response is completed, so a crash of the process after the response loses nothing; fsync runs
 * in batches for power loss. The lines appended during one turn of the event loop go out in one
 * write at its end (`written()` says when) rather than one system call each. Segments are deleted
 * once every row in them is in PostgreSQL. One writer per process: file names carry the pid, so
 * the workers of a node share the directory without sharing files.
 */
export interface Segment {
  path: string;
  bytes: number;
}

const WRITTEN = Promise.resolve();
const NEWLINE = Buffer.from('\n');
const SEGMENT_BYTES = 64 * 1024 * 1024;

const SEGMENT_RE = /^traces-(\d+)-(\d+)\.journal$/;

export class Journal {
  private fd: number | null = null;
  private seq = 0;
  private current: Segment | null = null;
  private closedBytes = 0;
  private dirty = false;
  private syncing = false;
  private readonly pid = process.pid;
  /** Files this instance created: everything else in the directory belongs to someone else. */
  private readonly mine = new Set<string>();
  /** Lines appended in this turn of the event loop, written together at its end. */
  private batch: { lines: Buffer[]; done: Promise<void>; settle: () => void } | null = null;
  /** A write failed part-way: the next one starts on a fresh line, so the fragment stays one bad line. */
  private torn = false;

  constructor(
    readonly dir: string,
    private readonly maxBytes: number,
    private readonly opts: {
      segmentBytes?: number;
      /** The first line of every segment (what its lines hold), if any. */
      header?: string;
      /** Lines the disk refused (a segment that cannot be opened, a failed write): not in the journal. */
      onWriteError?: (err: Error, lines: number) => void;
    } = {},
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Total bytes on disk that are not yet known to be in the database. */
  get bytes(): number {
    return this.closedBytes + (this.current?.bytes ?? 0);
  }

  get full(): boolean {
    return this.bytes >= this.maxBytes;
  }

  /**
   * Appends one line (its bytes, newline included) at the end of this turn; returns the segment
   * it goes to (see `written()`), or null when no segment can be opened (reported to
   * onWriteError, never thrown).
   */
  append(line: Buffer): Segment | null {
    if (this.current && this.current.bytes >= (this.opts.segmentBytes ?? SEGMENT_BYTES)) this.rotate();
    if (!this.current) {
      try {
        this.openSegment();
      } catch (err) {
        this.opts.onWriteError?.(err as Error, 1);
        return null;
      }
    }
    if (!this.batch) {
      let settle!: () => void;
      const done = new Promise<void>((resolve) => (settle = resolve));
      this.batch = { lines: [], done, settle };
      setImmediate(() => this.writeBatch());
    }
    this.batch.lines.push(line);
    return this.current!;
  }

  /** Settles once every line appended so far is written (or the disk refused it: see onWriteError). */
  written(): Promise<void> {
    return this.batch?.done ?? WRITTEN;
  }

  private writeBatch(): void {
    const batch = this.batch;
    if (!batch) return;
    this.batch = null;
    const data = this.torn ? Buffer.concat([NEWLINE, ...batch.lines]) : joinedBytes(batch.lines);
    let written = 0;
    try {
      // A regular file takes the whole buffer unless the disk is failing; loop for that case.
      while (written < data.length) written += writeSync(this.fd!, data, written);
      this.torn = false;
    } catch (err) {
      this.torn = written > 0 || this.torn;
      this.opts.onWriteError?.(err as Error, batch.lines.length);
    }
    this.current!.bytes += written;
    this.dirty = written > 0 || this.dirty;
    batch.settle();
  }

  /**
   * Forces written lines to stable storage; called once per flush interval, not per line. The
   * fsync runs on libuv's thread pool: on the event loop it stalled every call in flight for as
   * long as the disk took. A line is already safe from a crash of the process once written;
   * fsync is about power loss, which the interval bounds either way.
   */
  sync(): void {
    if (this.fd === null || !this.dirty || this.syncing) return;
    this.dirty = false;
    this.syncing = true;
    fsync(this.fd, (err) => {
      this.syncing = false;
      // Retried at the next interval; the lines themselves are written.
      if (err) this.dirty = true;
    });
  }

  /** Closes the current segment so it can be replayed or deleted; the next append opens a new one. */
  rotate(): Segment | null {
    this.writeBatch();
    const closed = this.current;
    if (this.fd !== null) {
      // Synced and closed off the event loop; the fd is not reused by this instance.
      const fd = this.fd;
      fsync(fd, () => close(fd, () => {}));
      this.dirty = false;
      this.fd = null;
    }
    if (closed) this.closedBytes += closed.bytes;
    this.current = null;
    return closed;
  }

  private openSegment(): void {
    const stamp = String(Date.now()).padStart(15, '0') + String(this.seq++).padStart(6, '0');
    const path = join(this.dir, `traces-${this.pid}-${stamp}.journal`);
    const fd = openSync(path, 'a', 0o600);
    this.mine.add(path);
    let header = 0;
    try {
      if (this.opts.header !== undefined) header = writeSync(fd, this.opts.header + '\n');
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.fd = fd;
    this.current = { path, bytes: header };
  }

  /** Bytes in the segment being written. */
  get currentBytes(): number {
    return this.current?.bytes ?? 0;
  }

  isCurrent(seg: Segment): boolean {
    return seg === this.current;
  }

  /** Deletes a closed segment whose rows are all in the database. */
  remove(seg: Segment): void {
    if (seg === this.current) return;
    this.mine.delete(seg.path);
    try {
      unlinkSync(seg.path);
    } catch {
      // already gone: another replayer removed it
    }
    this.closedBytes = Math.max(0, this.closedBytes - seg.bytes);
  }

  /**
   * Segments left by processes that are no longer running (a crash, a restart, a database
   * outage that outlived the process). Each is claimed by renaming it, so two workers starting
   * together never replay the same file; the claimed files count against the bound.
   */
  claimOrphans(): Segment[] {
    const claimed: Segment[] = [];
    for (const name of readdirSync(this.dir).sort()) {
      const m = SEGMENT_RE.exec(name) ?? /^claimed-(\d+)-(.+)$/.exec(name);
      if (!m) continue;
      const owner = Number(m[1]);
      const from = join(this.dir, name);
      // A file under our own pid that we did not write is from an earlier process (pid reuse).
      if (this.mine.has(from) || (owner !== this.pid && isAlive(owner))) continue;
      const to = join(this.dir, `claimed-${this.pid}-${name.replace(/^claimed-\d+-/, '')}`);
      try {
        renameSync(from, to);
        this.mine.add(to);
        const bytes = statSync(to).size;
        this.closedBytes += bytes;
        claimed.push({ path: to, bytes });
      } catch {
        // someone else claimed it first
      }
    }
    return claimed;
  }

  /**
   * The segment's lines. A last line without its newline is torn (a crash mid-write; its response
   * was never completed) and left out; the reader checks each line it gets for the same reason.
   */
  static readLines(seg: Segment): string[] {
    const lines = readFileSync(seg.path, 'utf8').split('\n');
    lines.pop();
    return lines.filter((l) => l !== '');
  }

  /** At shutdown: synced on the spot, the process may exit next. */
  close(): void {
    this.writeBatch();
    if (this.fd !== null) {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = null;
    }
    // A call that ends after shutdown (past its deadline) opens a new segment, replayed by the next process.
    if (this.current) this.closedBytes += this.current.bytes;
    this.current = null;
  }
}
