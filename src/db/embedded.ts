import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RenLayerError } from '../core/errors.js';
import type { Database } from './database.js';
import { openPglite } from './pglite.js';
import { PgliteWireServer } from './pglite-wire.js';
import { openPostgres } from './postgres.js';
import { isAlive } from '../core/process.js';

/**
 * The embedded database (PGlite) lives in one process. That process also serves it on a Unix
 * socket inside the data directory (mode 0700), so admin commands such as `renlayer traces tail`
 * work while `renlayer up` runs; `owner.json` says who holds it. Opening the files from a second
 * process would corrupt them, so that is refused.
 */
interface Owner {
  pid: number;
  socketDir: string;
}

const OWNER_FILE = 'owner.json';
// The socket's path must fit sockaddr_un (108 bytes) with the ".s.PGSQL.5432" name pg looks for.
const MAX_SOCKET_DIR = 90;

function pgdataDir(dataDir: string): string {
  return join(dataDir, 'pgdata');
}


function liveOwner(dataDir: string): Owner | undefined {
  const file = join(pgdataDir(dataDir), OWNER_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as Owner;
    return owner.pid !== process.pid && isAlive(owner.pid) ? owner : undefined;
  } catch {
    return undefined;
  }
}

function socketUrl(socketDir: string): string {
  return `postgresql://postgres@${encodeURIComponent(socketDir)}/postgres`;
}

/** Opens the embedded database as its owner and serves it to local admin commands. */
export async function openEmbeddedOwner(dataDir: string): Promise<Database> {
  const owner = liveOwner(dataDir);
  if (owner) {
    throw new RenLayerError('conflict',
      `the embedded database in ${dataDir} is in use by process ${owner.pid}; stop it first, or set RENLAYER_DATABASE_URL`);
  }
  const dir = pgdataDir(dataDir);
  const db = await openPglite(dir);
  let server: PgliteWireServer | null = null;
  if (dir.length <= MAX_SOCKET_DIR) {
    const socketPath = join(dir, '.s.PGSQL.5432');
    rmSync(socketPath, { force: true });
    server = new PgliteWireServer(db.pglite);
    await server.listen({ path: socketPath });
    writeFileSync(join(dir, OWNER_FILE), JSON.stringify({ pid: process.pid, socketDir: dir } satisfies Owner), { mode: 0o600 });
  } else {
    writeFileSync(join(dir, OWNER_FILE), JSON.stringify({ pid: process.pid, socketDir: '' } satisfies Owner), { mode: 0o600 });
  }
  return {
    ...db,
    // Changes made by admin commands through the socket notify this process's listeners too.
    async listen(channel, onMessage, onLost) {
      const stopLocal = await db.listen(channel, onMessage, onLost);
      const stopWire = server?.onNotification((c, payload) => {
        if (c === channel) onMessage(payload);
      });
      return async () => {
        stopWire?.();
        await stopLocal();
      };
    },
    async close() {
      await server?.close().catch(() => {});
      rmSync(join(dir, OWNER_FILE), { force: true });
      await db.close();
    },
  };
}

/**
 * For admin commands: through the running owner's socket if there is one, else the files
 * directly (nothing else is using them).
 */
export async function openEmbeddedClient(dataDir: string): Promise<Database> {
  const owner = liveOwner(dataDir);
  if (owner) {
    if (!owner.socketDir) {
      throw new RenLayerError('conflict',
        `the embedded database in ${dataDir} is in use by process ${owner.pid} and its path is too long to share; use a shorter RENLAYER_DATA_DIR`);
    }
    // Two connections: migrate() holds its lock on one and applies each migration on another.
    return openPostgres({ connectionString: socketUrl(owner.socketDir), max: 2, applicationName: 'renlayer-admin' });
  }
  return openEmbeddedOwner(dataDir);
}
