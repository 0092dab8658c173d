// From rows to conclusions: added latency over the mock, ratios to the pass-through and the peer
// of the same run, the markdown table for the README, and --compare against an older run.
import { round } from './stats.mjs';

const find = (rows, scenario, target) => rows.find((r) => r.scenario === scenario && r.target === target && !r.error);

/** Adds the comparisons that need other rows of the same run; returns the ratios section. */
export function derive(rows) {
  for (const r of rows) {
    if (r.error) continue;
    // The paired baseline (the mock measured right before this target) when there is one.
    const mock = r.mock_baseline ?? find(rows, r.scenario, 'mock');
    if (!mock || r.target === 'mock') continue;
    if (r.scenario === 'chat-c1') {
      r.added_p50_ms = round(r.p50_ms - mock.p50_ms, 3);
      r.added_p99_ms = round(r.p99_ms - mock.p99_ms, 3);
    }
    if (r.scenario === 'stream-ttfb') {
      r.added_ttfb_p50_ms = round(r.ttfb_p50_ms - mock.ttfb_p50_ms, 3);
      r.added_ttfb_p99_ms = round(r.ttfb_p99_ms - mock.ttfb_p99_ms, 3);
      r.added_first_content_p50_ms = round(r.first_content_p50_ms - mock.first_content_p50_ms, 3);
      r.added_first_content_p99_ms = round(r.first_content_p99_ms - mock.first_content_p99_ms, 3);
    }
  }
  const ratios = {};
  for (const r of rows) {
    if (r.error || !r.target.startsWith('renlayer') || r.rps === undefined) continue;
    const pass = find(rows, r.scenario, 'passthrough');
    const peer = find(rows, r.scenario, 'peer');
    ratios[`${r.scenario} ${r.target}`] = {
      rps: r.rps,
      to_passthrough: pass?.rps ? round(r.rps / pass.rps, 3) : null,
      to_peer: peer?.rps ? round(r.rps / peer.rps, 2) : null,
    };
  }
  return ratios;
}

const fmt = (x, d = 0) => (x === null || x === undefined ? '–' : Number(x).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const ms = (x) => (x === null || x === undefined ? '–' : Math.abs(x) < 10 ? x.toFixed(2) : x.toFixed(1));

/** Rows whose numbers are not what they claim to be: refused or failed calls, incomplete streams. */
export function warnings(rows) {
  const out = [];
  for (const r of rows) {
    if (r.error) out.push(`${r.scenario} → ${r.target}: ${r.error}`);
    else if (r.errors > 0) out.push(`${r.scenario} → ${r.target}: ${r.errors} of ${r.requests ?? '?'} calls failed or were not 2xx`);
    else if (r.failed > 0) out.push(`${r.scenario} → ${r.target}: ${r.failed} of ${r.streams} streams failed or were incomplete`);
    if (r.background_load?.errors > 0) out.push(`${r.scenario} → ${r.target}: ${r.background_load.errors} background calls failed`);
  }
  return out;
}

/** The table the README can paste: one column per target, one line per measurement. */
export function markdown(doc) {
  const { rows, targets } = doc;
  const cols = targets.map((t) => t.id);
  const cell = (scenario, target, fn) => {
    const r = rows.find((x) => x.scenario === scenario && x.target === target);
    if (!r) return ' ';
    if (r.error) return 'error';
    return fn(r);
  };
  const line = (label, scenario, fn) => `| ${label} | ${cols.map((c) => cell(scenario, c, fn)).join(' | ')} |`;
  const names = { mock: 'mock directly', passthrough: 'bare pass-through', peer: `Portkey ${doc.peer?.version ?? ''}`.trim(), 'renlayer-auth': 'RenLayer auth only, 1 worker', 'renlayer-full-w1': 'RenLayer full, 1 worker', 'renlayer-full-w2': 'RenLayer full, 2 workers' };
  const out = [];
  out.push(`| ${doc.date.slice(0, 10)}, ${doc.machine.cores} cores shared by all | ${cols.map((c) => names[c] ?? c).join(' | ')} |`);
  out.push(`|---|${cols.map(() => '---').join('|')}|`);
  out.push(line('chat, 50 conn: req/s', 'chat-c50', (r) => fmt(r.rps)));
  out.push(line('chat, 50 conn: p50 / p99 ms', 'chat-c50', (r) => `${ms(r.p50_ms)} / ${ms(r.p99_ms)}`));
  out.push(line('chat, 50 conn: CPU cores / RSS MB', 'chat-c50', (r) => `${fmt(r.resources?.cpu_cores, 2)} / ${fmt(r.resources?.rss_peak_mb)}${r.resources?.processes ? ` (${r.resources.processes.filter((p) => p.role !== 'primary').map((p) => fmt(p.rss_peak_mb)).join('+')} per worker)` : ''}`));
  out.push(line('chat, 50 conn: promoted B a call / full GCs', 'chat-c50', (r) => (r.gc ? `${fmt(r.gc.promoted_bytes_per_call)} / ${r.gc.full_collections}` : ' ')));
  out.push(line('1 conn: added p50 / p99 ms', 'chat-c1', (r) => (r.target === 'mock' ? `(${ms(r.p50_ms)} / ${ms(r.p99_ms)})` : `${ms(r.added_p50_ms)} / ${ms(r.added_p99_ms)}`)));
  out.push(line('SSE 64 deltas: added TTFB p50 / p99 ms', 'stream-ttfb', (r) => (r.target === 'mock' ? `(${ms(r.ttfb_p50_ms)} / ${ms(r.ttfb_p99_ms)})` : `${ms(r.added_ttfb_p50_ms)} / ${ms(r.added_ttfb_p99_ms)}`) + (r.failed ? ` (${r.failed} failed)` : '')));
  out.push(line('SSE 64 deltas: added time to first text p50 / p99 ms', 'stream-ttfb', (r) => (r.target === 'mock' ? `(${ms(r.first_content_p50_ms)} / ${ms(r.first_content_p99_ms)})` : `${ms(r.added_first_content_p50_ms)} / ${ms(r.added_first_content_p99_ms)}`)));
  out.push(line('1,000 streams: longest gap beyond pacing ms / stalls > 100 ms', 'stream-1000', (r) => `${ms(r.max_gap_beyond_pace_ms)} / ${r.stalls}${r.failed ? ` (${r.failed} of ${r.streams} failed)` : ''}`));
  out.push(line('200 ms upstream, 1,000 conn: req/s', 'slow-c1000', (r) => fmt(r.rps)));
  out.push(line('200 ms upstream, 1,000 conn: p99 ms', 'slow-c1000', (r) => ms(r.p99_ms) + (r.errors ? ` (${fmt(r.errors)} errors)` : '')));
  const extra = [];
  for (const id of ['renlayer-full-w1', 'renlayer-full-w2']) {
    const x = doc.ratios[`chat-c50 ${id}`];
    if (x) extra.push(`- ${names[id]}, 50 connections: ${fmt(x.rps)} req/s = ${x.to_passthrough ?? '–'}× the bare pass-through and ${x.to_peer ?? '–'}× Portkey of the same run.`);
  }
  for (const r of rows.filter((x) => x.scenario === 'propagation')) {
    if (r.error) extra.push(`- config propagation, ${names[r.target]}: error (${r.error})`);
    else extra.push(`- config propagation under load (${names[r.target]}, ${r.trials} changes at ${fmt(r.background_load?.rps)} req/s): commit → enforced on every worker p50 ${ms(r.every_worker_p50_ms)} ms, p99 ${ms(r.every_worker_p99_ms)} ms (proxy histogram: mean ${ms(r.proxy_histogram?.mean_ms)} ms).`);
  }
  for (const r of rows.filter((x) => x.scenario === 'soak')) {
    if (r.error) extra.push(`- soak, ${names[r.target]}: error (${r.error})`);
    else extra.push(`- soak (${names[r.target]}, ${fmt(r.slices * r.slice_seconds / 60, 1)} min at 50 connections): RSS ${fmt(r.second_window.rss_mb)} → ${fmt(r.last_window.rss_mb)} MB (${(r.rss_change * 100).toFixed(1)} %), p99 ${ms(r.second_window.p99_ms)} → ${ms(r.last_window.p99_ms)} ms (${(r.p99_change * 100).toFixed(1)} %), second vs last ${r.window_seconds} s; largest worker RSS ${fmt(r.max_worker_rss_mb)} MB.`);
  }
  for (const w of doc.warnings ?? []) extra.push(`- **warning**: ${w}`);
  if (doc.peer?.streaming?.note) extra.push(`- Portkey streaming rows: ${doc.peer.streaming.note}.`);
  out.push('');
  out.push(...extra);
  out.push('');
  out.push(`All processes — wrk or the SSE client, the mock, the target${rows.some((r) => r.target.startsWith('renlayer')) ? ' and PostgreSQL' : ''} — share the machine's ${doc.machine.cores} cores (${doc.machine.cpu_model}); compare ratios within one run. Command: \`${doc.command}\`.`);
  return out.join('\n');
}

const METRICS = ['rps', 'p50_ms', 'p99_ms', 'added_p50_ms', 'added_p99_ms', 'added_ttfb_p99_ms', 'added_first_content_p99_ms', 'max_gap_ms', 'stalls', 'every_worker_p99_ms'];

/** new/old per scenario × target for the headline metrics of each row. */
export function compare(newDoc, oldDoc) {
  const out = ['| scenario | target | metric | old | new | new/old |', '|---|---|---|---|---|---|'];
  for (const r of newDoc.rows) {
    const o = oldDoc.rows?.find((x) => x.scenario === r.scenario && x.target === r.target);
    if (!o || r.error || o.error) continue;
    for (const m of METRICS) {
      if (typeof r[m] !== 'number' || typeof o[m] !== 'number') continue;
      out.push(`| ${r.scenario} | ${r.target} | ${m} | ${o[m]} | ${r[m]} | ${o[m] === 0 ? '–' : (r[m] / o[m]).toFixed(2)} |`);
    }
  }
  return out.join('\n');
}
