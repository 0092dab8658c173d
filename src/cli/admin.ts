import { resolveAgent, UPSTREAM_TYPES, createAgent, type UpstreamType } from '../store/agents.js';
import { createKey, revokeKey } from '../store/keys.js';
import { addOperator, ROLES, type Role } from '../store/operators.js';
import { createTenant, resolveTenant } from '../store/tenants.js';
import { tailTraces } from '../store/traces.js';
import { cliActor } from './actor.js';
import { JSON_OPTION, output, required, UsageError, type Command } from './command.js';
import { withAdminDatabase } from './runtime.js';

const TENANT = { tenant: { type: 'string', description: 'tenant name or id' } } as const;

export const tenantCreate: Command = {
  name: 'tenant create',
  summary: 'Create a tenant. Prints {"id", "name"} with --json.',
  usage: 'tenant create --name NAME [--json]',
  options: { name: { type: 'string', description: 'tenant name (letters, digits, . _ -)' }, ...JSON_OPTION },
  async run(args) {
    const name = required(args, 'name');
    const t = await withAdminDatabase((db) => createTenant(db, name));
    output(args, { id: t.id, name: t.name }, `created tenant ${t.name} (${t.id})`);
  },
};

export const operatorAdd: Command = {
  name: 'operator add',
  summary: 'Give an operator (by e-mail) a role in a tenant; creates the operator if new.',
  usage: 'operator add --tenant T --email E --role owner|admin|editor|viewer [--json]',
  options: {
    ...TENANT,
    email: { type: 'string', description: 'operator e-mail address' },
    role: { type: 'string', description: ROLES.join(' | ') },
    ...JSON_OPTION,
  },
  async run(args) {
    const tenant = required(args, 'tenant');
    const email = required(args, 'email');
    const role = required(args, 'role');
    if (!ROLES.includes(role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
    const m = await withAdminDatabase(async (db) => {
      const t = await resolveTenant(db, tenant);
      return db.transaction((tx) => addOperator(tx, t.id, email, role as Role));
    });
    output(args, { id: m.operator_id, email: m.email, tenant_id: m.tenant_id, role: m.role },
      `${m.email} is ${m.role} of tenant ${m.tenant_id}`);
  },
};

export const agentCreate: Command = {
  name: 'agent create',
  summary: 'Create an agent and its first API key (the secret is shown once).',
  usage: 'agent create --tenant T --name N [--upstream URL] [--upstream-type openai|anthropic|vllm|mcp|http] [--json]',
  options: {
    ...TENANT,
    name: { type: 'string', description: 'agent name' },
    upstream: { type: 'string', description: 'upstream base URL (default: RENLAYER_DEFAULT_UPSTREAM)' },
    'upstream-type': { type: 'string', description: UPSTREAM_TYPES.join(' | ') },
    description: { type: 'string', description: 'free text' },
    ...JSON_OPTION,
  },
  async run(args) {
    const tenant = required(args, 'tenant');
    const name = required(args, 'name');
    const type = args.values['upstream-type'] as string | undefined;
    if (type !== undefined && !UPSTREAM_TYPES.includes(type as UpstreamType)) {
      throw new UsageError(`--upstream-type must be one of ${UPSTREAM_TYPES.join(', ')}`);
    }
    const { agent, key } = await withAdminDatabase(async (db, rt) => {
      const t = await resolveTenant(db, tenant);
      return db.transaction((tx) => createAgent(tx, rt.config.encryptionKey, {
        tenantId: t.id,
        name,
        description: args.values.description as string | undefined,
        upstreamUrl: args.values.upstream as string | undefined,
        upstreamType: type as UpstreamType | undefined,
      }));
    });
    output(args, { id: agent.id, name: agent.name, key: { id: key.id, secret: key.secret } },
      `created agent ${agent.name} (${agent.id})\nAPI key ${key.id}: ${key.secret}\nThe key is shown only now; store it safely.`);
  },
};

export const keyCreate: Command = {
  name: 'key create',
  summary: 'Mint a new API key for an agent (the secret is shown once).',
  usage: 'key create --tenant T --agent A [--name LABEL] [--expires-in-days N] [--json]',
  options: {
    ...TENANT,
    agent: { type: 'string', description: 'agent name or id' },
    name: { type: 'string', description: 'a label for the key' },
    'expires-in-days': { type: 'string', description: 'the key stops working after N days' },
    ...JSON_OPTION,
  },
  async run(args) {
    const tenant = required(args, 'tenant');
    const agentRef = required(args, 'agent');
    const days = args.values['expires-in-days'];
    let expiresAt: Date | undefined;
    if (days !== undefined) {
      const n = Number(days);
      if (!Number.isInteger(n) || n < 1 || n > 3650) throw new UsageError('--expires-in-days must be a whole number from 1 to 3650');
      expiresAt = new Date(Date.now() + n * 86_400_000);
    }
    const key = await withAdminDatabase(async (db) => {
      const t = await resolveTenant(db, tenant);
      const a = await resolveAgent(db, t.id, agentRef);
      return createKey(db, t.id, a.id, { name: args.values.name as string | undefined, expiresAt, createdBy: cliActor() });
    });
    output(args, { id: key.id, secret: key.secret, prefix: key.prefix, expires_at: key.expires_at },
      `API key ${key.id}: ${key.secret}\nThe key is shown only now; store it safely.`);
  },
};

export const keyRevoke: Command = {
  name: 'key revoke',
  summary: 'Revoke an API key; every proxy refuses it within a second.',
  usage: 'key revoke --tenant T KEY_ID [--json]',
  options: { ...TENANT, ...JSON_OPTION },
  positionals: { min: 1, max: 1, names: 'KEY_ID' },
  async run(args) {
    const tenant = required(args, 'tenant');
    const r = await withAdminDatabase(async (db) => {
      const t = await resolveTenant(db, tenant);
      return revokeKey(db, t.id, args.positionals[0]!);
    });
    output(args, r, `revoked ${r.id} at ${r.revoked_at}`);
  },
};

export const tracesTail: Command = {
  name: 'traces tail',
  summary: 'Show the most recent traces of a tenant (newest first). Without --tenant: the demo tenant.',
  usage: 'traces tail [--tenant T] [--limit N] [--json]',
  options: { ...TENANT, limit: { type: 'string', description: 'how many (default 20, at most 1000)' }, ...JSON_OPTION },
  async run(args) {
    const limit = args.values.limit === undefined ? 20 : Number(args.values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be a whole number from 1 to 1000');
    const tenant = (args.values.tenant as string | undefined) ?? 'demo';
    const rows = await withAdminDatabase(async (db) => tailTraces(db, (await resolveTenant(db, tenant)).id, limit));
    const human = rows.length === 0
      ? 'no traces yet'
      : rows.map((r) => [r.started_at, r.id, r.status.padEnd(11), String(r.http_status), r.action_type.padEnd(15),
        r.reason ?? '-', `${r.method} ${r.path}`, r.model ?? '-',
        r.tokens_in === null ? '-' : `${r.tokens_in}→${r.tokens_out ?? 0} tok`, `${r.latency_ms.toFixed(1)}ms`].join('  ')).join('\n');
    output(args, rows, human);
  },
};
