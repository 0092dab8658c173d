import { readFile } from 'node:fs/promises';
import { RenLayerError } from '../core/errors.js';
import { cliActor, cliAuditActor } from './actor.js';
import { JSON_OPTION, required, type Command } from './command.js';
import type { Change, FieldChange, Plan } from './config-plan.js';
import { withAdminDatabase } from './runtime.js';

/**
 * `renlayer apply -f FILE`: a tenant's configuration from a file (SPEC §13). The whole file is
 * checked before the database is touched, then the stored configuration is read, compared and
 * changed in one transaction with one audit row per change. Applying the same file twice changes
 * nothing the second time: no version, no audit row, no reload of the proxies.
 */

async function readSource(path: string): Promise<string> {
  try {
    if (path !== '-') return await readFile(path, 'utf8');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    throw new RenLayerError('not_found', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

const SYMBOL = { create: '+', update: '~', delete: '-' } as const;

/** A value short enough to print inline, or null. */
function short(v: unknown): string | null {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return v.length <= 60 && !/[\s"]/.test(v) ? v : v.length <= 60 ? JSON.stringify(v) : null;
  const json = JSON.stringify(v);
  return json.length <= 60 ? json : null;
}

/** `priority 10 → 20`, `upstream.headers.Authorization (changed)`, or just the field for long values. */
export function describeField(f: FieldChange): string {
  if (f.field.startsWith('upstream.headers.')) {
    return `${f.field} (${f.before === null ? 'added' : f.after === null ? 'removed' : 'changed'})`;
  }
  const b = short(f.before);
  const a = short(f.after);
  return b !== null && a !== null ? `${f.field} ${b} → ${a}` : f.field;
}

function changeLine(c: Change): string {
  const head = c.kind === 'settings' ? `${SYMBOL[c.op]} settings` : `${SYMBOL[c.op]} ${c.kind} ${c.name}`;
  const detail = c.op === 'update' ? `: ${c.fields.map(describeField).join(', ')}` : '';
  return head + detail + (c.note ? ` (${c.note})` : '');
}

export function renderPlan(plan: Plan, opts: { dryRun: boolean; prune: boolean }): string {
  const count = (op: Change['op']) => plan.changes.filter((c) => c.op === op && c.kind !== 'tenant').length;
  const lines = plan.changes.map(changeLine);
  if (plan.notInFile.length > 0) {
    lines.push(`kept, not in the file (--prune deletes them): ${plan.notInFile.map((r) => `${r.kind} ${r.name}`).join(', ')}`);
  }
  const total = plan.changes.length;
  if (total === 0) {
    lines.push(`no changes: tenant ${plan.tenantName} already matches the file (${plan.unchanged} resource${plan.unchanged === 1 ? '' : 's'})`);
  } else if (opts.dryRun) {
    lines.push(`dry run: ${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete, ${plan.unchanged} unchanged; nothing was written`);
  } else {
    lines.push(`applied to tenant ${plan.tenantName}: ${count('create')} created, ${count('update')} updated, ${count('delete')} deleted, ${plan.unchanged} unchanged`);
  }
  return lines.join('\n');
}

export function planJson(plan: Plan, opts: { dryRun: boolean; prune: boolean; tenantId: string | null }) {
  const count = (op: Change['op']) => plan.changes.filter((c) => c.op === op && c.kind !== 'tenant').length;
  return {
    tenant: { id: opts.tenantId, name: plan.tenantName, created: plan.changes.some((c) => c.kind === 'tenant') },
    dry_run: opts.dryRun,
    prune: opts.prune,
    changes: plan.changes.map((c) => ({ op: c.op, kind: c.kind, name: c.name, id: c.id, fields: c.fields, ...(c.note ? { note: c.note } : {}) })),
    summary: { create: count('create'), update: count('update'), delete: count('delete'), unchanged: plan.unchanged },
    not_in_file: plan.notInFile,
  };
}

export const applyCommand: Command = {
  name: 'apply',
  summary: "Make a tenant's configuration match a file (agents, policies, DLP, limits, settings); --dry-run shows the diff.",
  usage: 'apply -f FILE [--dry-run] [--prune] [--json]',
  options: {
    file: { type: 'string', short: 'f', description: 'the configuration file (YAML, SPEC §13); - reads standard input' },
    'dry-run': { type: 'boolean', description: 'print what would change and write nothing' },
    prune: { type: 'boolean', description: 'delete what the file no longer lists (in the sections it has), agents and their keys included' },
    ...JSON_OPTION,
  },
  async run(args) {
    const path = required(args, 'file');
    const dryRun = args.values['dry-run'] === true;
    const prune = args.values.prune === true;
    const text = await readSource(path);
    // Loaded here, not at start: the YAML parser, RE2 and the DLP catalog are for this command only.
    const { parseConfigFile, locateIssues, ConfigFileInvalid } = await import('./config-file.js');
    const { planApply } = await import('./config-plan.js');
    const { executePlan } = await import('./config-apply.js');
    const { readTenantConfiguration } = await import('../store/tenant-config.js');
    const { findTenantByName } = await import('../store/tenants.js');

    const desired = parseConfigFile(text, process.env);
    const { plan, tenantId } = await withAdminDatabase((db, rt) => db.transaction(async (tx) => {
      // A dry run cannot write, whatever a bug below might try.
      if (dryRun) await tx.query('SET TRANSACTION READ ONLY');
      const tenant = await findTenantByName(tx, desired.tenant);
      // Serialises concurrent applies to one tenant: the second plans against what the first committed.
      if (tenant && !dryRun) await tx.query('SELECT id FROM renlayer.tenants WHERE id = $1 FOR UPDATE', [tenant.id]);
      const stored = tenant ? await readTenantConfiguration(tx, tenant.id, rt.config.encryptionKey) : null;
      const { plan, issues } = planApply(desired, stored, { prune });
      if (issues.length > 0) throw new ConfigFileInvalid(locateIssues(text, issues));
      if (dryRun || plan.changes.length === 0) return { plan, tenantId: tenant?.id ?? null };
      const id = await executePlan(tx, plan, { encryptionKey: rt.config.encryptionKey, actor: cliAuditActor(), author: cliActor(), via: 'renlayer apply' });
      return { plan, tenantId: id };
    }));
    const out = args.values.json ? JSON.stringify(planJson(plan, { dryRun, prune, tenantId })) : renderPlan(plan, { dryRun, prune });
    process.stdout.write(out + '\n');
  },
};
