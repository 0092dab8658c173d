import type { Logger } from 'pino';

/**
 * Keeps a server process up until SIGTERM or SIGINT, then runs the graceful shutdown once.
 * A second signal while shutting down exits at once (an operator pressing Ctrl-C twice).
 */
export function stopOnSignal(log: Logger, close: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, 'shutting down: finishing in-flight calls and flushing traces');
      close().then(
        () => resolve(0),
        (err) => {
          log.error({ err: (err as Error).message }, 'error during shutdown');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
