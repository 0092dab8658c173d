// Numbers from /proc and from samples: CPU seconds and RSS per process, percentiles, the machine.
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { childPids } from './processes.mjs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const PAGE = 4096;

/** CPU seconds (user + system) and resident set size of one process, or null when it is gone. */
export function procStats(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rssPages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    return { cpuSeconds: ticks / TICKS_PER_SECOND, rssBytes: rssPages * PAGE };
  } catch {
    return null;
  }
}

/** Pids of the PostgreSQL server's processes (backends included), found by command name. */
export function postgresPids() {
  const out = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') out.push(Number(entry));
    } catch { /* gone */ }
  }
  return out;
}

const MB = 1048576;
const round = (x, digits = 2) => (x === null || x === undefined || Number.isNaN(x) ? null : Number(x.toFixed(digits)));

/**
 * Measures a target's processes over one scenario: CPU used (cores = CPU seconds / wall seconds)
 * and RSS (peak of samples every 500 ms, and at the end), in total and per process. `roles` maps
 * a pid to its name (primary, worker-1, …); a multi-process target passes its primary with
 * `withChildren` so workers are found — and found again if one is replaced.
 */
export class ProcSampler {
  constructor(rootPid, { withChildren = false, extra = {} } = {}) {
    this.rootPid = rootPid;
    this.withChildren = withChildren;
    this.extra = extra; // name → () => pid[] (e.g. postgres), summed as one entry
    this.start = null;
    this.timer = null;
    this.peaks = new Map();
  }

  pids() {
    const map = new Map();
    if (this.rootPid) {
      map.set(this.rootPid, this.withChildren ? 'primary' : 'process');
      if (this.withChildren) childPids(this.rootPid).forEach((p, i) => map.set(p, `worker-${i + 1}`));
    }
    return map;
  }

  snapshot() {
    const per = new Map();
    for (const [pid, role] of this.pids()) {
      const s = procStats(pid);
      if (s) per.set(pid, { role, ...s });
    }
    const extra = {};
    for (const [name, fn] of Object.entries(this.extra)) {
      let cpu = 0;
      let rss = 0;
      for (const pid of fn()) {
        const s = procStats(pid);
        if (s) { cpu += s.cpuSeconds; rss += s.rssBytes; }
      }
      extra[name] = { cpuSeconds: cpu, rssBytes: rss };
    }
    return { at: performance.now(), per, extra };
  }

  begin() {
    this.start = this.snapshot();
    this.peaks.clear();
    this.sample();
    this.timer = setInterval(() => this.sample(), 500);
    return this;
  }

  sample() {
    for (const [pid, s] of this.snapshot().per) this.peaks.set(pid, Math.max(this.peaks.get(pid) ?? 0, s.rssBytes));
  }

  /** Stops sampling and returns the figures of the interval since begin(). */
  end() {
    clearInterval(this.timer);
    const end = this.snapshot();
    const seconds = (end.at - this.start.at) / 1000;
    const processes = [];
    let cores = 0;
    let rss = 0;
    let peak = 0;
    for (const [pid, s] of end.per) {
      const before = this.start.per.get(pid);
      const used = before ? (s.cpuSeconds - before.cpuSeconds) / seconds : null;
      processes.push({ pid, role: s.role, cpu_cores: round(used), rss_mb: round(s.rssBytes / MB, 1), rss_peak_mb: round(Math.max(s.rssBytes, this.peaks.get(pid) ?? 0) / MB, 1) });
      cores += used ?? 0;
      rss += s.rssBytes;
      peak += Math.max(s.rssBytes, this.peaks.get(pid) ?? 0);
    }
    const out = { cpu_cores: round(cores), rss_mb: round(rss / MB, 1), rss_peak_mb: round(peak / MB, 1) };
    if (processes.length > 1) out.processes = processes;
    for (const [name, s] of Object.entries(end.extra)) {
      const before = this.start.extra[name];
      out[`${name}_cpu_cores`] = round((s.cpuSeconds - before.cpuSeconds) / seconds);
    }
    return out;
  }
}

/** The q-quantile (0..1) of a sorted array, nearest rank. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function machine() {
  const info = { cpu_model: cpus()[0]?.model ?? null, cores: cpus().length, memory_gib: round(totalmem() / 2 ** 30, 1) };
  try {
    const quota = readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim();
    if (!quota.startsWith('max')) info.cgroup_cpu_max = quota;
  } catch { /* no cgroup v2 limit */ }
  return info;
}

export { round, MB };
