import { RenLayerError } from '../core/errors.js';
import { decide, type Finding } from '../dlp/engine.js';
import type { Evaluation } from '../policy/evaluate.js';

/**
 * The status of a call from its policy evaluation and DLP findings (SPEC §3 "Final status",
 * §5 enforcement). Pure: the proxy, the policy tester and the simulator all call this, so the
 * playground cannot disagree with enforcement.
 */
export type Status = 'ALLOWED' | 'FLAGGED' | 'DENIED' | 'DLP_BLOCKED' | 'DLP_WARNED';
export type Enforcement = 'enforce' | 'flag_only';

export const PRECEDENCE: Readonly<Record<Status, number>> = { ALLOWED: 0, DLP_WARNED: 1, FLAGGED: 2, DLP_BLOCKED: 3, DENIED: 4 };

export interface Verdict {
  status: Status;
  reason: string | null;
  /** The refusal to answer with (403), or null when the call goes on. */
  refusal: RenLayerError | null;
  /** Findings to redact from what is forwarded. */
  redact: Finding[];
}

/** What an agent and a trace may see of a finding: never the value. */
export function publicFinding(f: Finding) {
  return { class: f.class, severity: f.severity, direction: f.direction, location: f.location };
}

/** The 403 for blocking findings, naming them (never their values). */
export function dlpRefusal(findings: readonly Finding[], stage: 'request' | 'response'): RenLayerError {
  return new RenLayerError('dlp_blocked', stage === 'request'
    ? 'the request contains data this tenant does not allow to leave'
    : 'the answer contains data this tenant does not allow to reach the agent',
  { findings: findings.filter((f) => f.action === 'block').map(publicFinding) });
}

const DEFAULT_DENY_MESSAGE = 'no policy allows this call, and this tenant denies by default';

function policyRefusal(e: Evaluation, stage: 'request' | 'response'): RenLayerError {
  const w = e.winner;
  const message = w?.message ?? (w ? `denied by policy ${w.name}` : DEFAULT_DENY_MESSAGE);
  return new RenLayerError('policy_denied', stage === 'response' ? `the answer was withheld: ${message}` : message, {
    policy_id: w?.id ?? null,
    ...(w ? { policy_name: w.name } : { default_action: 'DENY' }),
    ...(w?.message ? { message: w.message } : {}),
  });
}

/**
 * Every outcome that applies, strongest first by precedence (ties: the more decisive reason
 * first); the first is the verdict. In flag-only mode nothing refuses: what would be DENIED or
 * DLP_BLOCKED is FLAGGED / DLP_WARNED with reason would_deny / would_block.
 */
export function verdict(findings: readonly Finding[], evaluation: Evaluation, enforcement: Enforcement, stage: 'request' | 'response' = 'request'): Verdict {
  const dlp = decide(findings);
  const enforce = enforcement === 'enforce';
  const candidates: { status: Status; reason: string; refusal?: RenLayerError }[] = [];
  if (evaluation.action === 'DENY') {
    candidates.push(enforce
      ? { status: 'DENIED', reason: 'policy_denied', refusal: policyRefusal(evaluation, stage) }
      : { status: 'FLAGGED', reason: 'would_deny' });
  }
  if (dlp.blocked) {
    candidates.push(enforce
      ? {
          status: 'DLP_BLOCKED',
          reason: stage === 'request' ? 'dlp_blocked_request' : 'dlp_blocked_response',
          refusal: dlpRefusal(findings, stage),
        }
      : { status: 'DLP_WARNED', reason: 'would_block' });
  }
  if (evaluation.action === 'FLAG') candidates.push({ status: 'FLAGGED', reason: 'policy_flagged' });
  if (dlp.redact.length > 0) candidates.push({ status: 'DLP_WARNED', reason: 'dlp_redacted' });
  if (dlp.warned) candidates.push({ status: 'DLP_WARNED', reason: 'dlp_warned' });
  // Stable sort: among equal statuses the order pushed above (the more decisive reason) stays.
  candidates.sort((a, b) => PRECEDENCE[b.status] - PRECEDENCE[a.status]);
  const top = candidates[0];
  return {
    status: top?.status ?? 'ALLOWED',
    reason: top?.reason ?? null,
    refusal: top?.refusal ?? null,
    redact: dlp.redact,
  };
}
