// `--profile`: RenLayer targets run under V8's sampling profiler (node --cpu-prof, one
// .cpuprofile per process, written when it exits), and each profile is summarised here: where
// the process spent its time by function (self time) and by source file or package. Open the
// files in Chrome DevTools (Performance → Load profile) or speedscope for flame graphs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** `file:///…/node_modules/undici/lib/…` → `undici`; `file:///…/dist/proxy/relay.js` → `dist/proxy/relay.js`. */
function place(url, functionName) {
  if (!url) return functionName || '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 1) : url;
}

function top(map, total, n) {
  return [...map].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, us]) => ({ name, share: Number((us / total).toFixed(4)) }));
}

/** One profile: total sampled time, the busiest functions by self time, and by file or package. */
export function summarizeProfile(file, n = 20) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const files = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    total += us;
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    const where = place(url, functionName);
    const fn = `${functionName || '(anonymous)'} ${url ? `${where}:${lineNumber + 1}` : ''}`.trim();
    self.set(fn, (self.get(fn) ?? 0) + us);
    files.set(where, (files.get(where) ?? 0) + us);
  });
  return { file, sampled_ms: Math.round(total / 1000), functions: top(self, total, n), files: top(files, total, n) };
}

/** Every profile in a directory (a target's processes: primary and workers). */
export function summarizeProfiles(dir) {
  let names = [];
  try { names = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort(); } catch { return []; }
  return names.map((f) => summarizeProfile(join(dir, f)));
}

/** The summary as lines for the console. */
export function profileLines(targetId, summaries, n = 12) {
  const pct = (s) => `${(s * 100).toFixed(1).padStart(5)} %`;
  const out = [];
  for (const s of summaries) {
    out.push(`[bench] profile ${targetId}: ${s.file} (${s.sampled_ms} ms sampled)`);
    for (const f of s.functions.slice(0, n)) out.push(`[bench]   ${pct(f.share)}  ${f.name}`);
    out.push('[bench]   by file or package:');
    for (const f of s.files.slice(0, n)) out.push(`[bench]   ${pct(f.share)}  ${f.name}`);
  }
  return out;
}
