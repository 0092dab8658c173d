import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP forwarder between a renlayer process and a service (PostgreSQL, an upstream) that a test
 * can cut and restore: an outage as the process sees it — refused and reset connections — without
 * stopping a server other test files share.
 */
export interface TcpGate {
  port: number;
  /** Resets every open connection and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function openTcpGate(targetHost: string, targetPort: number): Promise<TcpGate> {
  let open = true;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (!open) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut() {
      open = false;
      for (const s of sockets) s.resetAndDestroy();
      sockets.clear();
    },
    restore() {
      open = true;
    },
    async close() {
      open = false;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The same URL with its host and port replaced by the gate's. */
export function throughGate(url: string, gate: TcpGate): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(gate.port);
  return u.toString();
}
