#!/usr/bin/env node
// A small SSE client over undici for the streaming scenarios, run as its own process (so its work
// and garbage collection stay out of the harness) with one JSON argument; prints one JSON result.
//   mode "ttfb":    `count` streams, `concurrency` at a time; time to the first body byte per stream,
//                   and to the first byte of answer text (a proxy may send the role-only opening
//                   chunk at once and hold the text back).
//   mode "streams": `concurrency` clients each opening streams back to back for `seconds`; the
//                   longest gap between consecutive body chunks seen by any client.
import { Pool } from 'undici';

const cfg = JSON.parse(process.argv[2]);
const url = new URL(cfg.url);
const pool = new Pool(url.origin, { connections: cfg.concurrency, pipelining: 1, keepAliveTimeout: 60_000, bodyTimeout: 60_000, headersTimeout: 60_000 });
const body = cfg.body;
const path = url.pathname + url.search;
const DONE = Buffer.from('[DONE]');
// The first delta that carries text (OpenAI's role-only opening chunk has "content":"").
const CONTENT = /"content":"[^"]/;

/** One stream: status, time to first body byte, chunks, the largest gap between two chunks, completeness. */
function oneStream() {
  const t0 = performance.now();
  const r = { status: 0, ttfb: null, ttft: null, total: 0, maxGap: 0, chunks: 0, complete: false };
  let last = 0;
  let tail = null;
  return pool.request({ method: 'POST', path, headers: cfg.headers, body }).then((res) => new Promise((resolve) => {
    r.status = res.statusCode;
    res.body.on('data', (chunk) => {
      const now = performance.now();
      if (r.ttft === null && CONTENT.test(chunk.toString('latin1'))) r.ttft = now - t0;
      if (r.ttfb === null) r.ttfb = now - t0;
      else if (now - last > r.maxGap) r.maxGap = now - last;
      last = now;
      r.chunks++;
      tail = chunk;
    });
    res.body.on('end', () => {
      r.total = performance.now() - t0;
      r.complete = r.status === 200 && tail !== null && tail.includes(DONE);
      resolve(r);
    });
    res.body.on('error', (err) => {
      r.error = err.code ?? err.message;
      r.total = performance.now() - t0;
      resolve(r);
    });
  }), (err) => {
    r.error = err.code ?? err.message;
    r.total = performance.now() - t0;
    return r;
  });
}

const q = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] : null);
const r3 = (x) => (x === null ? null : Number(x.toFixed(3)));

function summary(results) {
  const errors = {};
  for (const r of results) if (!r.complete) errors[r.error ?? `HTTP ${r.status}${r.status === 200 ? ' incomplete' : ''}`] = (errors[r.error ?? `HTTP ${r.status}${r.status === 200 ? ' incomplete' : ''}`] ?? 0) + 1;
  const ok = results.filter((r) => r.complete);
  const ttfb = ok.map((r) => r.ttfb).sort((a, b) => a - b);
  const ttft = ok.map((r) => r.ttft ?? r.total).sort((a, b) => a - b);
  const gaps = ok.map((r) => r.maxGap).sort((a, b) => a - b);
  return {
    streams: results.length,
    complete: ok.length,
    failed: results.length - ok.length,
    ...(Object.keys(errors).length ? { failures: errors } : {}),
    chunks_per_stream_p50: q(ok.map((r) => r.chunks).sort((a, b) => a - b), 0.5),
    ttfb_p50_ms: r3(q(ttfb, 0.5)),
    ttfb_p99_ms: r3(q(ttfb, 0.99)),
    first_content_p50_ms: r3(q(ttft, 0.5)),
    first_content_p99_ms: r3(q(ttft, 0.99)),
    stream_p50_ms: r3(q(ok.map((r) => r.total).sort((a, b) => a - b), 0.5)),
    max_gap_ms: r3(gaps.length ? gaps[gaps.length - 1] : null),
    max_gap_p99_ms: r3(q(gaps, 0.99)),
    stalls: ok.filter((r) => r.maxGap > cfg.paceMs + cfg.stallMs).length,
  };
}

async function main() {
  const results = [];
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  if (cfg.mode === 'ttfb') {
    // Warm-up in this process (connections, JIT), not counted.
    for (let i = 0; i < (cfg.warmup ?? 0); i++) await oneStream();
    let next = 0;
    const lane = async () => {
      while (next < cfg.count) {
        next++;
        results.push(await oneStream());
      }
    };
    await Promise.all(Array.from({ length: cfg.concurrency }, lane));
  } else {
    const deadline = performance.now() + cfg.seconds * 1000;
    // Clients start spread over `rampMs`, as independent agents would, not all in one instant.
    const lane = async (i) => {
      await new Promise((r) => setTimeout(r, (i * cfg.rampMs) / cfg.concurrency));
      while (performance.now() < deadline) results.push(await oneStream());
    };
    await Promise.all(Array.from({ length: cfg.concurrency }, (_, i) => lane(i)));
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // The client's own CPU: on a shared machine, what it takes is not available to the target.
  const out = { ...summary(results), seconds: r3(seconds), client_cpu_cores: r3((cpu.user + cpu.system) / 1e6 / seconds) };
  await pool.close();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
