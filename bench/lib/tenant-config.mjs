// The tenants RenLayer is measured with, written as `renlayer apply` files (SPEC §13).
import { stringify } from 'yaml';

// Limits that are counted on every call but never reached: a call is ~575 tokens, so 10,000
// calls/s for an hour are 2·10^10 tokens (a 10^9 token limit did trip 8 minutes into a soak).
const HIGH_REQUESTS = 1_000_000_000;
const HIGH_TOKENS = 1_000_000_000_000;

/**
 * "auth only": a tenant with no policies, no limits, every built-in DLP detector disabled and no
 * bodies kept on traces. What is left is authentication, classification and the trace row.
 */
export function authOnlyTenant(name, upstream, builtinClasses) {
  return stringify({
    apiVersion: 'renlayer/v1',
    tenant: name,
    settings: { default_action: 'ALLOW', enforcement: 'enforce', store_bodies: 'none' },
    agents: [{ name: 'bench', upstream: { type: 'openai', base_url: upstream } }],
    dlp: { detectors: Object.fromEntries(builtinClasses.map((c) => [c, { enabled: false }])) },
  });
}

/** Ten policies of mixed conditions; none of them matches the benchmark's traffic. */
export function benchPolicies() {
  return [
    { name: 'deny-legacy-models', action: 'DENY', priority: 10, conditions: [{ field: 'model', op: 'glob', value: ['gpt-3*', 'text-davinci-*'] }] },
    { name: 'flag-reasoning-models', action: 'FLAG', priority: 20, conditions: [{ field: 'model', op: 'in', value: ['o1-preview', 'o1-mini'] }] },
    { name: 'no-secrets-to-anthropic', action: 'DENY', priority: 30, conditions: [{ field: 'dlp_category', op: 'in', value: ['secret'] }, { field: 'provider', op: 'in', value: ['anthropic'] }] },
    { name: 'flag-huge-prompts', action: 'FLAG', priority: 40, conditions: [{ field: 'request_bytes', op: 'gt', value: 500_000 }] },
    { name: 'deny-blocked-team', action: 'DENY', priority: 50, conditions: [{ field: 'header', op: 'equals', name: 'X-Team', value: 'blocked-team' }] },
    { name: 'flag-contractors', action: 'FLAG', priority: 60, conditions: [{ field: 'user', op: 'glob', value: 'contractor-*' }] },
    { name: 'deny-shell-tools', action: 'DENY', priority: 70, conditions: [{ field: 'tool_name', op: 'glob', value: ['shell_*', 'exec_*'] }] },
    { name: 'flag-codename', action: 'FLAG', priority: 80, conditions: [{ field: 'prompt', op: 'contains', value: 'project-nightjar', case_insensitive: true }] },
    { name: 'deny-internal-embeddings', action: 'DENY', priority: 90, conditions: [{ field: 'action_type', op: 'in', value: ['embedding'] }, { field: 'prompt', op: 'regex', value: '(?i)internal[- ]only' }] },
    { name: 'flag-critical-answers', action: 'FLAG', priority: 100, conditions: [{ field: 'risk_level', op: 'gte', value: 'critical', direction: 'response' }, { field: 'upstream', op: 'glob', value: '*.example.net' }] },
  ];
}

/** Five custom DLP patterns, each scanned on requests and responses. */
export function benchPatterns() {
  return [
    { name: 'employee-id', type: 'regex', pattern: 'EMP-[0-9]{6}', severity: 'HIGH', applies_to: 'both' },
    { name: 'codenames', type: 'keywords', keywords: ['bluebird', 'nightjar', 'kestrel'], severity: 'HIGH', applies_to: 'both' },
    { name: 'ticket-ref', type: 'regex', pattern: 'TKT-[A-Z]{3}-[0-9]{5}', severity: 'MEDIUM', applies_to: 'both' },
    { name: 'internal-host', type: 'regex', pattern: '[a-z0-9-]+\\.corp\\.internal', severity: 'MEDIUM', applies_to: 'both' },
    { name: 'project-key', type: 'regex', pattern: 'PRJ_[A-Za-z0-9]{20}', severity: 'CRITICAL', applies_to: 'both' },
  ];
}

/**
 * "full pipeline": ten policies, every built-in DLP detector (the default) plus five custom
 * patterns on request and response, per-agent and per-user limits on requests and tokens that
 * are counted but never reached, redacted bodies on every trace row.
 */
export function fullTenant(name, upstream) {
  return stringify({
    apiVersion: 'renlayer/v1',
    tenant: name,
    settings: { default_action: 'ALLOW', enforcement: 'enforce', store_bodies: 'redacted' },
    agents: [{
      name: 'bench',
      upstream: { type: 'openai', base_url: upstream },
      limits: [
        { scope: 'per_agent', dimension: 'requests', window: 'minute', limit: HIGH_REQUESTS },
        { scope: 'per_agent', dimension: 'tokens', window: 'hour', limit: HIGH_TOKENS },
      ],
    }],
    policies: benchPolicies(),
    dlp: { patterns: benchPatterns() },
    limits: [
      { scope: 'per_user', dimension: 'requests', window: 'minute', limit: HIGH_REQUESTS },
      { scope: 'per_user', dimension: 'tokens', window: 'hour', limit: HIGH_TOKENS },
    ],
  });
}
