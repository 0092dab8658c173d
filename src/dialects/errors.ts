/**
 * Error bodies in the dialect of the API the agent speaks (SPEC §3 "Error bodies"), so the
 * agent's own SDK surfaces our errors as it would the provider's.
 */
export type Dialect = 'openai' | 'anthropic' | 'mcp';

export interface ErrorInfo {
  code: string;
  status: number;
  message: string;
  traceId: string;
  /** policy_id, message, findings, limit … added to the `renlayer` object. */
  extra?: Record<string, unknown>;
}

const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'overloaded_error',
  504: 'api_error',
};

// JSON-RPC server-error range; the HTTP status stays on the HTTP response.
const JSONRPC_CODES: Record<number, number> = { 400: -32600, 401: -32001, 403: -32003, 413: -32600, 429: -32029 };

export function errorBody(dialect: Dialect, e: ErrorInfo, rpcId: unknown = null): Record<string, unknown> {
  const renlayer = { code: e.code, trace_id: e.traceId, ...e.extra };
  switch (dialect) {
    case 'anthropic':
      return { type: 'error', error: { type: ANTHROPIC_TYPES[e.status] ?? 'api_error', message: e.message }, renlayer };
    case 'mcp':
      return {
        jsonrpc: '2.0',
        id: rpcId ?? null,
        error: { code: JSONRPC_CODES[e.status] ?? -32000, message: e.message, data: { renlayer } },
        renlayer,
      };
    default:
      return { error: { message: e.message, type: 'renlayer_error', code: e.code, param: null }, renlayer };
  }
}

/** The dialect an error should be written in, from the request path (and MCP upstreams). */
export function dialectForPath(path: string, upstreamType?: string): Dialect {
  if (upstreamType === 'mcp') return 'mcp';
  const p = path.split('?', 1)[0]!;
  if (/\/mcp(\/|$)/.test(p)) return 'mcp';
  if (p.endsWith('/messages') || p.endsWith('/messages/count_tokens')) return 'anthropic';
  return 'openai';
}

/**
 * The event that ends a stream with a failure, in the stream's own dialect, so the agent's SDK
 * raises an error instead of seeing a clean, truncated success (SPEC §6 "Streams"). OpenAI chat
 * streams get a `data: {"error": …}` event and no `[DONE]`; Responses streams an `error` event;
 * Anthropic streams an `event: error`.
 */
export function streamErrorEvent(api: string, e: ErrorInfo): string {
  const renlayer = { code: e.code, trace_id: e.traceId, ...e.extra };
  if (api === 'anthropic_messages') {
    const body = { type: 'error', error: { type: ANTHROPIC_TYPES[e.status] ?? 'api_error', message: e.message }, renlayer };
    return `event: error\ndata: ${JSON.stringify(body)}\n\n`;
  }
  if (api === 'openai_responses') {
    const body = { type: 'error', code: e.code, message: e.message, param: null, sequence_number: 0, renlayer };
    return `event: error\ndata: ${JSON.stringify(body)}\n\n`;
  }
  const body = { error: { message: e.message, type: 'renlayer_error', code: e.code, param: null }, renlayer };
  return `data: ${JSON.stringify(body)}\n\n`;
}
