import { setFlagsFromString } from 'node:v8';

/**
 * V8's heap settings for the processes that serve calls. Each default gives way to the
 * operator's own flag, on the command line (or, for the flags Node allows there, in
 * NODE_OPTIONS). The measurements behind them are in docs/proxy.md.
 */

/** Whether the operator set a V8 flag (either spelling), on the command line or in NODE_OPTIONS. */
function chosen(flag: string, execArgv: readonly string[], nodeOptions: string): boolean {
  const re = new RegExp(`^--${flag.replace(/-/g, '[-_]')}\\b`);
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((a) => re.test(a));
}

/**
 * Node's flags for the workers: the primary's, and a young generation of 8 MB semi-spaces
 * (V8's default is 16 MB) unless the operator chose one. Measured with the full pipeline at
 * 3,750 req/s: about 20 MB less RSS per worker (175–190 → 155–170 MB) at the same throughput.
 */
export function workerExecArgv(execArgv: readonly string[], nodeOptions = ''): string[] {
  return chosen('max-semi-space-size', execArgv, nodeOptions) ? [...execArgv] : [...execArgv, '--max-semi-space-size=8'];
}

/**
 * How far V8 lets the old generation grow past what its last full collection kept before the
 * next one: 50 % here, unless the operator chose (V8's own choice goes up to 300 % on a machine
 * with memory to spare). A proxy keeps little alive (20–30 MB after a full collection under
 * load) but promotes a few MB a second, so V8's choice let each process's heap reach 85–125 MB
 * between collections: 200–245 MB RSS per worker with 1,000 streams or connections open, past
 * the 200 MB a worker is sized for. At 50 %: 141–161 MB. A call promotes about 0.4 KB (it was
 * 10 KB while the proxy kept a Set of the calls in flight: proxy/server.ts), so a process
 * serving 4,000 req/s runs a full collection every 2–3 s; at 100 % the GC per call was 17
 * against 20 µs, for 10 MB more RSS. Read by V8 at each collection, so
 * it is set at run time, in the process that serves (a worker, or the single process of a
 * sidecar). Node refuses the flag in NODE_OPTIONS: an operator gives it to node itself
 * (`node --heap-growing-percent=0 "$(command -v renlayer)" proxy` restores V8's own choice).
 */
export function tuneHeap(execArgv: readonly string[] = process.execArgv, set: (flag: string) => void = setFlagsFromString): string | null {
  if (chosen('heap-growing-percent', execArgv, '')) return null;
  const flag = '--heap-growing-percent=50';
  set(flag);
  return flag;
}
