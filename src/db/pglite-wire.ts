import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

/**
 * Serves one PGlite over the PostgreSQL wire protocol to several clients at once.
 *
 * PGlite is a single session, so clients take turns, and a turn must be a whole unit of work:
 * - an extended-protocol exchange (Parse, Bind, Describe, Execute … Sync) is forwarded in one
 *   piece — interleaving two clients' messages would make one Bind the other's statement;
 * - a transaction holds the session until it ends: the client keeps PGlite's exclusive lock from
 *   BEGIN to COMMIT/ROLLBACK, so neither another client nor the owning process's own queries ever
 *   run inside it. A client that stays idle in a transaction too long is rolled back and dropped.
 */
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
/** Messages after which the client waits for the server: the end of one unit of work. */
const SYNC_POINTS = new Set(['S'.charCodeAt(0), 'Q'.charCodeAt(0), 'H'.charCodeAt(0)]);
const TERMINATE = 'X'.charCodeAt(0);
const QUERY = 'Q'.charCodeAt(0);
const NOTIFICATION = 'A'.charCodeAt(0);
const IDLE_IN_TRANSACTION_MS = 30_000;

/** A simple-protocol Query message. */
function simpleQuery(sql: string): Uint8Array {
  const text = Buffer.from(sql + '\0');
  const msg = Buffer.alloc(5 + text.length);
  msg[0] = 'Q'.charCodeAt(0);
  msg.writeInt32BE(4 + text.length, 1);
  text.copy(msg, 5);
  return new Uint8Array(msg);
}

/** A simple query `COPY … FROM STDIN` alone in its batch. */
function isCopyFromStdin(batch: Buffer): boolean {
  if (batch[0] !== QUERY || batch.length !== 1 + batch.readInt32BE(1)) return false;
  return /^\s*COPY\b[\s\S]*\bFROM\s+STDIN\b/i.test(batch.subarray(5, batch.length - 1).toString('utf8'));
}

/** ErrorResponse (SQLSTATE 0A000, feature_not_supported) and ReadyForQuery. */
function notSupported(message: string, inTransaction: boolean): Buffer {
  const fields = Buffer.from(`SERROR\0VERROR\0C0A000\0M${message}\0\0`);
  const error = Buffer.alloc(5 + fields.length);
  error[0] = 'E'.charCodeAt(0);
  error.writeInt32BE(4 + fields.length, 1);
  fields.copy(error, 5);
  const ready = Buffer.from([0x5a, 0, 0, 0, 5, (inTransaction ? 'T' : 'I').charCodeAt(0)]);
  return Buffer.concat([error, ready]);
}

class Client {
  private buffer: Buffer = Buffer.alloc(0);
  private pending: Buffer[] = [];
  private started = false;
  private waiter: ((batch: Buffer | null) => void) | null = null;
  readonly batches: Buffer[] = [];
  /** Channels this client LISTENs on. */
  readonly channels = new Set<string>();
  closed = false;

  constructor(readonly socket: Socket, private readonly onBatch: (c: Client) => void) {}

  /** Splits the byte stream into protocol messages and groups them up to each sync point. */
  receive(data: Buffer): void {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    for (;;) {
      if (!this.started) {
        if (this.buffer.length < 8) return;
        const len = this.buffer.readInt32BE(0);
        if (this.buffer.length < len) return;
        const code = this.buffer.readInt32BE(4);
        const msg = this.buffer.subarray(0, len);
        this.buffer = this.buffer.subarray(len);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          this.socket.write('N');
          continue;
        }
        if (code === CANCEL_REQUEST) {
          this.socket.end();
          return;
        }
        this.started = true;
        this.push(Buffer.from(msg));
        continue;
      }
      if (this.buffer.length < 5) return;
      const len = 1 + this.buffer.readInt32BE(1);
      if (this.buffer.length < len) return;
      const type = this.buffer[0]!;
      const msg = Buffer.from(this.buffer.subarray(0, len));
      this.buffer = this.buffer.subarray(len);
      if (type === TERMINATE) {
        this.socket.end();
        return;
      }
      this.pending.push(msg);
      if (type === QUERY) this.noteListen(msg.subarray(5, msg.length - 1).toString('utf8'));
      if (SYNC_POINTS.has(type)) {
        const batch = Buffer.concat(this.pending);
        this.pending = [];
        this.push(batch);
      }
    }
  }

  /** LISTEN/UNLISTEN arrive as simple queries (pg sends `LISTEN "channel"`). */
  private noteListen(sql: string): void {
    const m = /^\s*(UN)?LISTEN\s+(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*|\*))\s*;?\s*$/i.exec(sql);
    if (!m) return;
    const channel = m[2] !== undefined ? m[2].replace(/""/g, '"') : m[3]!.toLowerCase();
    if (!m[1]) this.channels.add(channel);
    else if (channel === '*') this.channels.clear();
    else this.channels.delete(channel);
  }

  private push(batch: Buffer): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(batch);
    } else {
      this.batches.push(batch);
      this.onBatch(this);
    }
  }

  /** The next batch of this client, or null if it closes or idles too long (inside a transaction). */
  next(timeoutMs: number): Promise<Buffer | null> {
    const queued = this.batches.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(null);
      }, timeoutMs);
      this.waiter = (b) => {
        clearTimeout(timer);
        resolve(b);
      };
    });
  }

  close(): void {
    this.closed = true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(null);
    }
  }
}

export class PgliteWireServer {
  private readonly server: Server;
  private readonly ready: Client[] = [];
  private readonly clients = new Set<Client>();
  private running = false;

  constructor(private readonly db: PGlite) {
    this.server = createServer((socket) => this.accept(socket));
  }

  listen(where: { path: string } | { host: string; port: number }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      if ('path' in where) this.server.listen(where.path, () => resolve());
      else this.server.listen(where.port, where.host, () => resolve());
    });
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const c of this.clients) {
      c.close();
      c.socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const client = new Client(socket, (c) => this.schedule(c));
    this.clients.add(client);
    socket.on('data', (d: Buffer) => client.receive(d));
    const drop = () => {
      client.close();
      this.clients.delete(client);
    };
    socket.on('close', drop);
    socket.on('error', drop);
  }

  private schedule(c: Client): void {
    if (!this.ready.includes(c)) this.ready.push(c);
    if (!this.running) void this.run();
  }

  /** Serves clients in turn; one that opens a transaction keeps the session until it ends. */
  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.ready.length > 0) {
        const client = this.ready.shift()!;
        // The transaction lock first (the owner's own db.transaction() holds it from BEGIN to
        // COMMIT), then the query lock: a client's batch never lands inside the owner's transaction.
        await this.exclusive(async () => {
          let batch = client.batches.shift() ?? null;
          while (batch) {
            await this.execute(client, batch);
            if (!this.db.isInTransaction()) break;
            batch = await client.next(IDLE_IN_TRANSACTION_MS);
            if (!batch) {
              // Closed or idle inside its transaction: undo it so the session is clean again.
              // Raw protocol: exec() would wait for the lock we are holding.
              await this.db.execProtocolRawStream(simpleQuery('ROLLBACK'), { onRawData: () => {} }).catch(() => {});
              client.socket.destroy();
            }
          }
        });
        if (client.batches.length > 0 && !client.closed) this.ready.push(client);
      }
    } finally {
      this.running = false;
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const db = this.db as PGlite & { _runExclusiveTransaction?: <R>(f: () => Promise<R>) => Promise<R> };
    const inQueryLock = () => db.runExclusive(fn);
    return db._runExclusiveTransaction ? db._runExclusiveTransaction(inQueryLock) : inQueryLock();
  }

  private async execute(client: Client, batch: Buffer): Promise<void> {
    if (isCopyFromStdin(batch)) {
      // PGlite cannot take COPY data over the wire: it loses the session. Refuse it the way a
      // server refuses what it does not support, and leave the session as it was.
      client.socket.write(notSupported('COPY FROM STDIN is not supported by the embedded database', this.db.isInTransaction()));
      return;
    }
    const out: Buffer[] = [];
    try {
      await this.db.execProtocolRawStream(new Uint8Array(batch), {
        onRawData: (data: Uint8Array) => {
          out.push(Buffer.from(data));
          if (!client.closed && client.socket.writable) client.socket.write(data);
        },
      });
    } catch {
      // PGlite answers protocol errors in-band; a throw here means the instance is closing.
      client.socket.destroy();
    }
    this.relayNotifications(client, out);
  }

  /**
   * PGlite is one session, so a NOTIFY comes back in the output of whichever client ran it. A
   * server would tell every session that LISTENs: copy each NotificationResponse to the other
   * clients listening on its channel, and to in-process subscribers.
   */
  private relayNotifications(from: Client, out: Buffer[]): void {
    if (out.length === 0) return;
    const data = out.length === 1 ? out[0]! : Buffer.concat(out);
    for (let i = 0; i + 5 <= data.length;) {
      const len = 1 + data.readInt32BE(i + 1);
      if (len < 5 || i + len > data.length) return;
      if (data[i] === NOTIFICATION) {
        const msg = data.subarray(i, i + len);
        const channelEnd = msg.indexOf(0, 9);
        const channel = msg.subarray(9, channelEnd).toString('utf8');
        const payload = msg.subarray(channelEnd + 1, msg.length - 1).toString('utf8');
        for (const c of this.clients) {
          if (c !== from && !c.closed && c.channels.has(channel) && c.socket.writable) c.socket.write(msg);
        }
        for (const fn of this.subscribers) fn(channel, payload);
      }
      i += len;
    }
  }

  private readonly subscribers = new Set<(channel: string, payload: string) => void>();

  /** Notifications raised by wire clients, for listeners inside the owning process. */
  onNotification(fn: (channel: string, payload: string) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }
}
