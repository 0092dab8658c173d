import { readFile } from 'node:fs/promises';
import type { TextPart } from '../dialects/types.js';
import type { TenantDlpConfig } from '../dlp/engine.js';
import { UsageError, type Command } from './command.js';
import { withAdminDatabase } from './runtime.js';

/** One text to scan and the id it is reported under. */
interface Input {
  id: unknown;
  text: string;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `{"id", "text"}` per line; blank lines are skipped; a line without a string `text` is wrong usage. */
function parseJsonLines(source: string, content: string): Input[] {
  const out: Input[] = [];
  content.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      throw new UsageError(`${source}:${i + 1}: not JSON`);
    }
    if (typeof rec !== 'object' || rec === null || typeof (rec as { text?: unknown }).text !== 'string') {
      throw new UsageError(`${source}:${i + 1}: expected {"id", "text"} with a string text`);
    }
    const { id, text } = rec as { id?: unknown; text: string };
    out.push({ id: id ?? `${source}:${i + 1}`, text });
  });
  return out;
}

/** The tenant's overrides, patterns, allow lists and action mapping; the database is opened only here. */
async function tenantConfig(tenant: string): Promise<TenantDlpConfig> {
  const { resolveTenant } = await import('../store/tenants.js');
  const { loadTenantDlpConfig } = await import('../store/dlp.js');
  return withAdminDatabase(async (db) => {
    const t = await resolveTenant(db, tenant);
    return db.transaction((tx) => loadTenantDlpConfig(tx, t.id));
  });
}

export const dlpScan: Command = {
  name: 'dlp scan',
  summary: 'Scan files or standard input with the proxy\'s DLP engine; findings as JSON Lines, exit 1 on a blocking finding.',
  usage: 'dlp scan [FILE ...] [--jsonl] [--tenant T]',
  options: {
    jsonl: { type: 'boolean', description: 'input is JSON Lines of {"id", "text"}; one output line per input line' },
    tenant: { type: 'string', description: "apply this tenant's overrides, custom patterns, allow lists and actions (name or id)" },
  },
  positionals: { min: 0, max: Number.MAX_SAFE_INTEGER, names: 'FILE' },
  async run(args) {
    const tenant = args.values.tenant as string | undefined;
    if (tenant === '') throw new UsageError('--tenant needs a tenant name or id');
    const config: TenantDlpConfig = tenant === undefined ? { overrides: {}, patterns: [], allow: [] } : await tenantConfig(tenant);
    // The engine loads RE2 and the detector catalog: only for this command, not for every start.
    const { compileDlp, decide, scan } = await import('../dlp/engine.js');
    // Hashes are not printed, so the salt only has to exist.
    const compiled = compileDlp(config, 'renlayer-dlp-scan');

    let blocked = false;
    let unreadable = false;
    const report = (input: Input) => {
      const part: TextPart = { path: '$', text: input.text, kind: 'input' };
      const findings = scan(compiled, [part], 'request', null);
      if (decide(findings).blocked) blocked = true;
      const out = findings.map((f) => ({ class: f.class, severity: f.severity, start: f.location.start, end: f.location.end, confidence: f.confidence }));
      process.stdout.write(JSON.stringify({ id: input.id, findings: out }) + '\n');
    };

    const sources = args.positionals.length > 0 ? args.positionals : ['-'];
    for (const source of sources) {
      let content: string;
      try {
        content = source === '-' ? await readStdin() : await readFile(source, 'utf8');
      } catch (err) {
        // The other files are still scanned; the exit code says the run was incomplete.
        process.stderr.write(`renlayer dlp scan: cannot read ${source}: ${(err as Error).message}\n`);
        unreadable = true;
        continue;
      }
      const id = source === '-' ? 'stdin' : source;
      const inputs = args.values.jsonl ? parseJsonLines(id, content) : [{ id, text: content }];
      inputs.forEach(report);
    }
    return unreadable ? 2 : blocked ? 1 : 0;
  },
};
