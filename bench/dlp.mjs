#!/usr/bin/env node
// DLP accuracy and speed, on one core:
//   npm run bench:dlp                 (builds, then runs this file)
//   node bench/dlp.mjs --errors       (also prints every false positive, false negative and span difference)
//   node bench/dlp.mjs --quick        (accuracy and hostile inputs only, 2 MB of throughput text)
// Uses the built engine (dist/dlp/engine.js) with the built-in detector set and the default
// tenant configuration (no overrides, no custom patterns, no allow list).
//
// 1. Accuracy over the labelled corpus test/fixtures/dlp/*.jsonl (rules in bench/dlp-score.mjs).
// 2. Throughput: ~16 MB of realistic agent traffic (mostly clean prose, chat, logs, JSON and
//    code, about one chunk in ten carrying a finding from the corpus), in chunks of 1–8 KB each
//    scanned as one text, as the proxy scans one message; warmed up first; the median of 3 passes.
// 3. A conversation sent again: the first ~50 KB of that traffic as the messages of one request,
//    scanned as the proxy scans a request it has seen the texts of before (looked up by digest),
//    against scanning them; microseconds per request, the median of 5 runs of 200.
// 4. Hostile inputs: 1 MB texts built to stress regex engines; milliseconds each.
// Results: bench/results/<YYYY-MM-DD>-dlp.json. Exit 1 when a target is missed (the JSON is
// still written).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BUILTIN_CLASSES } from '../dist/dlp/detectors/index.js';
import { compileDlp, scan } from '../dist/dlp/engine.js';
import { CONFIDENCE_THRESHOLD, loadCorpus, scoreCorpus, validateCorpus } from './dlp-score.mjs';
import { rand, traffic } from './dlp-traffic.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const TARGETS = { precision: 0.95, recall: 0.95, mbPerSecond: 50, hostileMs: 100 };

const compiled = compileDlp({ overrides: {}, patterns: [], allow: [] }, 'bench-dlp');
const scanText = (text) => scan(compiled, [{ path: '$', text, kind: 'message' }], 'request', null);
const predict = (text) =>
  scanText(text).map((f) => ({ class: f.class, start: f.location.start, end: f.location.end, confidence: f.confidence }));

// ---------------------------------------------------------------------------------------------
// 1. Accuracy

const corpus = loadCorpus();
const problems = validateCorpus(corpus, BUILTIN_CLASSES);
if (problems.length > 0) {
  console.error(`corpus problems:\n${problems.join('\n')}`);
  process.exit(2);
}
const accuracy = scoreCorpus(corpus, predict, BUILTIN_CLASSES);
const negatives = corpus.filter((l) => l.expected.length === 0).length;

// ---------------------------------------------------------------------------------------------
// 2. Throughput

const chunks = traffic(corpus, quick ? 2e6 : 16e6);
const totalBytes = chunks.reduce((n, c) => n + Buffer.byteLength(c), 0);
for (let pass = 0; pass < 2; pass++) for (let i = 0; i < Math.min(chunks.length, 1500); i++) scanText(chunks[i]);
const passes = [];
let findingsPerPass = 0;
for (let pass = 0; pass < 3; pass++) {
  let n = 0;
  const t0 = process.hrtime.bigint();
  for (const c of chunks) n += scanText(c).length;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  passes.push(totalBytes / 1e6 / seconds);
  findingsPerPass = n;
}
const sorted = [...passes].sort((a, b) => a - b);
const throughput = {
  bytes: totalBytes,
  chunks: chunks.length,
  chunksWithFindings: chunks.filter((c) => scanText(c).length > 0).length,
  findings: findingsPerPass,
  mbPerSecondPasses: passes.map((p) => Number(p.toFixed(1))),
  mbPerSecond: Number(sorted[1].toFixed(1)),
};

// ---------------------------------------------------------------------------------------------
// 3. A conversation sent again

const conversation = [];
for (let i = 0, chars = 0; chars < 50_000 && i < chunks.length; chars += chunks[i].length, i++) {
  conversation.push({ path: `$.messages[${i}].content`, text: chunks[i], kind: 'message' });
}
function microsPerRequest(remember) {
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 200; i++) scan(compiled, conversation, 'request', 'agt_bench', { remember });
    runs.push(Number(process.hrtime.bigint() - t0) / 1e3 / 200);
  }
  return Number(runs.sort((a, b) => a - b)[2].toFixed(1));
}
scan(compiled, conversation, 'request', 'agt_bench', { remember: true });
const repeat = {
  messages: conversation.length,
  chars: conversation.reduce((n, p) => n + p.text.length, 0),
  scannedMicros: microsPerRequest(false),
  seenBeforeMicros: microsPerRequest(true),
};

// ---------------------------------------------------------------------------------------------
// 4. Hostile inputs

const MB = 1_000_000;
const fill = (unit) => unit.repeat(Math.ceil(MB / unit.length)).slice(0, MB);
const noise = (alphabet) => Array.from({ length: MB }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const HOSTILE = {
  'a@a. repeated': fill('a@a.'),
  'long local part then @': fill('a').slice(0, MB - 10) + '@b.example',
  'digits, no separators': noise('0123456789'),
  'digit groups "1234 "': fill('1234 '),
  'base64 noise': noise(B64),
  'base64 noise after secret=': 'secret=' + noise(B64).slice(7),
  'nested quotes "\'': fill(`"'`),
  '-----BEGIN repeated': fill('-----BEGIN '),
  'PEM header repeated': fill('-----BEGIN RSA PRIVATE KEY-----\n'),
  '+1 repeated': fill('+1 '),
  '+49 (0) digit groups': fill('+49 (0)30 '),
  'sk- repeated': fill('sk-'),
  'sk-ant-api03- repeated': fill('sk-ant-api03-'),
  'eyJ repeated': fill('eyJ'),
  'eyJ….eyJ… no end': 'eyJ' + fill('a').slice(0, MB / 2) + '.eyJ' + fill('b').slice(0, MB / 2 - 10),
  'AKIA repeated': fill('AKIA'),
  'colons (IPv6-ish)': fill('a:'),
  'dots and digits': fill('1.'),
  'fence without end': '```python\n' + fill('x = 1\n').slice(0, MB - 10),
  'backticks': fill('`'),
  'code-like lines': fill('x;\n'),
  'keyword lines': fill('def f(): return 1;\n'),
  'token= repeated': fill('token='),
  'Bearer repeated': fill('Bearer '),
  'whitespace': fill(' \n\t'),
  'Latin-1 letters': fill('éàüß'),
  'capitalised words': fill('Via Roma Milano '),
};
// Not hostile: texts dense with real findings cost time per finding (validator, HMAC of the
// value, overlap resolution). Reported for information, without a target.
const DENSE = {
  'e-mail addresses': Array.from({ length: 40_000 }, (_, i) => `user${i}@mail${i % 97}.northwind.io `).join('').slice(0, MB),
  'street addresses "Via Roma 10 "': fill('Via Roma 10 '),
  'IPv4 addresses': Array.from({ length: 70_000 }, (_, i) => `81.${i % 250}.${(i >> 8) % 250}.7 `).join('').slice(0, MB),
};
function timeEach(inputs) {
  const out = {};
  for (const [name, text] of Object.entries(inputs)) {
    scanText(text.slice(0, 10_000));
    const times = [];
    let n = 0;
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      n = scanText(text).length;
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    out[name] = { ms: Number(Math.max(...times).toFixed(1)), findings: n };
  }
  return out;
}
const hostile = timeEach(HOSTILE);
const dense = timeEach(DENSE);

// ---------------------------------------------------------------------------------------------
// Report

const pct = (x) => (x * 100).toFixed(1).padStart(6);
const lines = [];
lines.push(`DLP corpus: ${corpus.length} lines (${negatives} negatives), confidence threshold ${CONFIDENCE_THRESHOLD}`);
lines.push(`${'class'.padEnd(26)} ${'exp'.padStart(4)} ${'pred'.padStart(4)} ${'TP'.padStart(4)} ${'FP'.padStart(3)} ${'FN'.padStart(3)} ${'prec%'.padStart(6)} ${'rec%'.padStart(6)} ${'exact%'.padStart(6)}`);
const missed = [];
for (const cls of BUILTIN_CLASSES) {
  const r = accuracy.perClass[cls];
  const bad = r.precision < TARGETS.precision || r.recall < TARGETS.recall;
  if (r.precision < TARGETS.precision) missed.push(`${cls} precision ${r.precision.toFixed(3)}`);
  if (r.recall < TARGETS.recall) missed.push(`${cls} recall ${r.recall.toFixed(3)}`);
  lines.push(`${cls.padEnd(26)} ${String(r.expected).padStart(4)} ${String(r.predicted).padStart(4)} ${String(r.tp).padStart(4)} ${String(r.fp).padStart(3)} ${String(r.fn).padStart(3)} ${pct(r.precision)} ${pct(r.recall)} ${pct(r.exactRate)}${bad ? '  <' : ''}`);
}
const t = accuracy.totals;
lines.push(`${'total'.padEnd(26)} ${String(t.expected).padStart(4)} ${String(t.predicted).padStart(4)} ${String(t.tp).padStart(4)} ${String(t.fp).padStart(3)} ${String(t.fn).padStart(3)} ${pct(t.precision)} ${pct(t.recall)} ${pct(t.exactRate)}`);
lines.push('');
lines.push(`Throughput: ${throughput.mbPerSecond} MB/s (median of ${passes.map((p) => p.toFixed(1)).join(', ')}) over ${(totalBytes / 1e6).toFixed(1)} MB in ${chunks.length} chunks of 1–8 KB, ${throughput.chunksWithFindings} with findings`);
if (throughput.mbPerSecond < TARGETS.mbPerSecond) missed.push(`throughput ${throughput.mbPerSecond} MB/s`);
lines.push(`A conversation sent again (${repeat.messages} messages, ${repeat.chars} characters): ${repeat.scannedMicros} µs scanned, ${repeat.seenBeforeMicros} µs with every text seen before`);
lines.push('');
lines.push('Hostile 1 MB inputs (slowest of 3):');
for (const [name, h] of Object.entries(hostile)) {
  const bad = h.ms >= TARGETS.hostileMs;
  if (bad) missed.push(`hostile "${name}" ${h.ms} ms`);
  lines.push(`  ${name.padEnd(32)} ${h.ms.toFixed(1).padStart(7)} ms  ${String(h.findings).padStart(6)} findings${bad ? '  <' : ''}`);
}
lines.push('');
lines.push('Dense findings, 1 MB each (information, no target):');
for (const [name, d] of Object.entries(dense)) lines.push(`  ${name.padEnd(32)} ${d.ms.toFixed(1).padStart(7)} ms  ${String(d.findings).padStart(6)} findings`);
console.log(lines.join('\n'));
if (args.includes('--errors')) {
  console.log('\nErrors:');
  for (const e of accuracy.errors) console.log(JSON.stringify(e));
}

const date = new Date().toISOString().slice(0, 10);
const result = {
  date,
  command: 'npm run bench:dlp',
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cpus: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
  engine: 'built-in detectors, default tenant configuration (no overrides, custom patterns or allow list)',
  targets: TARGETS,
  accuracy: {
    corpus: { lines: corpus.length, negatives, files: [...new Set(corpus.map((l) => l.file))] },
    rules: {
      confidenceThreshold: CONFIDENCE_THRESHOLD,
      match: 'same class and overlapping spans; recall = expected entries matched / expected, precision = findings matching an expected entry / findings',
    },
    perClass: Object.fromEntries(
      BUILTIN_CLASSES.map((cls) => {
        const r = accuracy.perClass[cls];
        return [cls, { ...r, precision: Number(r.precision.toFixed(4)), recall: Number(r.recall.toFixed(4)), exactRate: Number(r.exactRate.toFixed(4)) }];
      }),
    ),
    totals: { ...t, precision: Number(t.precision.toFixed(4)), recall: Number(t.recall.toFixed(4)), exactRate: Number(t.exactRate.toFixed(4)) },
  },
  throughput,
  repeat,
  hostile,
  dense,
  missed,
};
if (!quick) {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}${date}-dlp.json`, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote bench/results/${date}-dlp.json`);
}
if (missed.length > 0) {
  console.log(`\nMissed targets: ${missed.join('; ')}`);
  process.exit(1);
}
console.log('\nAll targets met.');
