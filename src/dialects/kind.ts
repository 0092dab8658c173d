import type { ApiKind } from './types.js';

/**
 * Which wire format a call speaks, so the right normaliser, usage reader and stream interpreter
 * are used. Agrees with classify(): a JSON-RPC body wins over the path (MCP servers can live at
 * any path), and only POSTs are model calls (`GET …/chat/completions` lists stored completions).
 */

// Longest suffix first: `/chat/completions` also ends with `/completions`.
const SUFFIXES: ReadonlyArray<readonly [string, ApiKind]> = [
  ['/chat/completions', 'openai_chat'],
  ['/completions', 'openai_completions'],
  ['/responses', 'openai_responses'],
  ['/messages', 'anthropic_messages'],
  ['/embeddings', 'embeddings'],
];

function isRpcMessage(x: unknown): boolean {
  return (
    typeof x === 'object' &&
    x !== null &&
    !Array.isArray(x) &&
    (x as { jsonrpc?: unknown }).jsonrpc === '2.0' &&
    typeof (x as { method?: unknown }).method === 'string'
  );
}

export function isJsonRpcBody(body: unknown): boolean {
  return Array.isArray(body) ? body.some(isRpcMessage) : isRpcMessage(body);
}

export function apiKind(method: string, path: string, body: unknown): ApiKind {
  if (isJsonRpcBody(body)) return 'mcp';
  if (method.toUpperCase() !== 'POST') return 'http';
  const p = (path.split('?', 1)[0] ?? '').replace(/\/+$/, '');
  for (const [suffix, kind] of SUFFIXES) if (p.endsWith(suffix)) return kind;
  return 'http';
}
