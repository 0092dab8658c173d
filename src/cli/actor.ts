import { hostname, userInfo } from 'node:os';
import type { AuditActor } from '../store/audit.js';

/**
 * Who made a change from the command line. The CLI has no operator login: whoever can run it
 * with the database URL (or next to the embedded database) already holds every permission, so
 * the audit log records the operating-system account and host instead of an operator, and the
 * role `cli` rather than pretending to a tenant role such as owner.
 */
export function cliActor(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers)
  }
  return `cli:${user}@${hostname()}`;
}

export function cliAuditActor(): AuditActor {
  return { id: null, email: cliActor(), role: 'cli' };
}
