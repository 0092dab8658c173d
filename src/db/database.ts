/**
 * One interface over a PostgreSQL server (pg) and embedded PGlite. Callers write the same SQL
 * for both; the two implementations differ only in how connections and notifications work.
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export type DatabaseKind = 'postgres' | 'pglite';

export interface Database extends Queryable {
  readonly kind: DatabaseKind;
  /** BEGIN … COMMIT around fn; ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** fn runs on one connection held for its whole duration (session-level advisory locks). */
  withConnection<T>(fn: (conn: Queryable) => Promise<T>): Promise<T>;
  /**
   * Subscribes to NOTIFY on a channel. onLost is called if the subscription's connection dies;
   * the caller decides whether and when to subscribe again.
   */
  listen(channel: string, onMessage: (payload: string) => void, onLost?: (err: Error) => void): Promise<() => Promise<void>>;
  /**
   * `COPY … FROM STDIN` with `data` in COPY's text format; the number of rows copied. Only a
   * PostgreSQL server has it (PGlite takes INSERTs): callers check for it. All or nothing, as
   * one statement: a row the server refuses refuses the whole call.
   */
  copyFrom?(sql: string, data: string | Buffer): Promise<number>;
  close(): Promise<void>;
}

/** True when an error means "the database could not be reached", as opposed to a bad query. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN'].includes(code)) return true;
    // SQLSTATE class 08: connection exception; 57P01-57P03: admin shutdown, crash, cannot connect now.
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  }
  return /Connection terminated|connection timeout|Client has encountered a connection error|database is closed|PGlite is closed/i.test(err.message);
}

/**
 * True when the database cannot take a statement now but may later: unreachable, or refusing for
 * a passing reason (class 53: too many connections or out of resources; 57: cancelled or shutting
 * down; 40: serialization failure or deadlock; 25006: read-only during a failover; 55P03: a lock
 * not available). Work that fails this way is retried, never set aside as bad data.
 */
export function isRetryableError(err: unknown): boolean {
  if (isConnectionError(err)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (/^(53|57|40)/.test(code) || code === '25006' || code === '55P03');
}
