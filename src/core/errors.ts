/**
 * The one error type. Every failure a user can cause has a stable code; the HTTP status and,
 * for the CLI, the exit code follow from it. Messages say what to fix and never carry secrets.
 */
export const ERROR_STATUS = {
  // proxy (SPEC §3)
  invalid_api_key: 401,
  agent_disabled: 403,
  auth_unavailable: 503,
  invalid_request: 400,
  invalid_header: 400,
  payload_too_large: 413,
  rate_limit_exceeded: 429,
  policy_denied: 403,
  dlp_blocked: 403,
  no_upstream: 502,
  upstream_unavailable: 502,
  upstream_timeout: 504,
  trace_backlog_full: 503,
  // API and shared
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  validation_failed: 422,
  not_ready: 503,
  internal_error: 500,
  // start-up and CLI
  config_invalid: 500,
  schema_too_new: 500,
  schema_mismatch: 500,
  usage: 400,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class RenLayerError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'RenLayerError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = details;
  }
}

export function isRenLayerError(err: unknown, code?: ErrorCode): err is RenLayerError {
  return err instanceof RenLayerError && (code === undefined || err.code === code);
}
