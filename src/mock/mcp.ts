import { randomUUID } from 'node:crypto';
import { eventFrame, json, type Reply } from './reply.js';
import { isRecord } from './text.js';

/**
 * A stateless MCP server over streamable HTTP: JSON-RPC 2.0 in a POST, answered as JSON (or as one
 * SSE `message` event per response when the client only accepts event streams). It keeps no
 * session state, so the Mcp-Session-Id it hands out is only for clients that expect one.
 */

export const MCP_PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '2024-10-07'];
const LATEST = MCP_PROTOCOL_VERSIONS[0] as string;

const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const METHOD_NOT_FOUND = -32601;
const INVALID_PARAMS = -32602;
const SERVER_ERROR = -32000;

export const MCP_TOOLS = [
  {
    name: 'echo',
    description: 'Returns the text argument unchanged.',
    inputSchema: {
      type: 'object',
      properties: { text: { type: 'string', description: 'Text to return' } },
      required: ['text'],
    },
  },
  {
    name: 'add',
    description: 'Adds two numbers and returns the sum.',
    inputSchema: {
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'number' } },
      required: ['a', 'b'],
    },
  },
];

type Id = string | number | null;

class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function textResult(text: string): Record<string, unknown> {
  return { content: [{ type: 'text', text }], isError: false };
}

function callTool(params: Record<string, unknown>): Record<string, unknown> {
  const args = isRecord(params.arguments) ? params.arguments : {};
  switch (params.name) {
    case 'echo':
      if (typeof args.text !== 'string') throw new RpcError(INVALID_PARAMS, 'echo: argument "text" must be a string');
      return textResult(args.text);
    case 'add':
      if (typeof args.a !== 'number' || typeof args.b !== 'number') {
        throw new RpcError(INVALID_PARAMS, 'add: arguments "a" and "b" must be numbers');
      }
      return textResult(String(args.a + args.b));
    default:
      throw new RpcError(INVALID_PARAMS, `Unknown tool: ${String(params.name)}`);
  }
}

function dispatch(method: string, params: Record<string, unknown>): Record<string, unknown> {
  switch (method) {
    case 'initialize': {
      const asked = params.protocolVersion;
      const protocolVersion = typeof asked === 'string' && MCP_PROTOCOL_VERSIONS.includes(asked) ? asked : LATEST;
      return {
        protocolVersion,
        capabilities: { tools: { listChanged: false } },
        serverInfo: { name: 'renlayer-mock', version: '0.1.0' },
      };
    }
    case 'ping':
      return {};
    case 'tools/list':
      return { tools: MCP_TOOLS };
    case 'tools/call':
      return callTool(params);
    default:
      throw new RpcError(METHOD_NOT_FOUND, `Method not found: ${method}`);
  }
}

function rpcError(id: Id, code: number, message: string): Record<string, unknown> {
  return { jsonrpc: '2.0', id, error: { code, message } };
}

/** The answer to one message, or null for notifications and client responses, which get none. */
function handleOne(msg: unknown): Record<string, unknown> | null {
  if (!isRecord(msg) || msg.jsonrpc !== '2.0') {
    const id = isRecord(msg) && (typeof msg.id === 'string' || typeof msg.id === 'number') ? msg.id : null;
    return rpcError(id, INVALID_REQUEST, 'Invalid Request');
  }
  if (typeof msg.method !== 'string') return null;
  if (msg.id === undefined) return null;
  const id = msg.id as Id;
  try {
    return { jsonrpc: '2.0', id, result: dispatch(msg.method, isRecord(msg.params) ? msg.params : {}) };
  } catch (e) {
    if (e instanceof RpcError) return rpcError(id, e.code, e.message);
    throw e;
  }
}

/** JSON unless the client's Accept lists event streams but not JSON. */
function wantsSse(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.includes('text/event-stream') && !/application\/json|application\/\*|\*\/\*/.test(accept);
}

export function mcpPost(body: unknown, accept: string | undefined): Reply {
  const batch = Array.isArray(body);
  const msgs = batch ? body : [body];
  if (msgs.length === 0) return json(400, rpcError(null, INVALID_REQUEST, 'Invalid Request: empty batch'));
  const out: Record<string, unknown>[] = [];
  let initialize = false;
  for (const m of msgs) {
    if (isRecord(m) && m.method === 'initialize') initialize = true;
    const r = handleOne(m);
    if (r) out.push(r);
  }
  const headers = initialize ? { 'mcp-session-id': randomUUID() } : undefined;
  if (out.length === 0) return headers ? { kind: 'empty', status: 202, headers } : { kind: 'empty', status: 202 };
  if (wantsSse(accept)) {
    return { kind: 'sse', head: out.map((r) => eventFrame('message', r)), deltas: [], tail: [], ...(headers ? { headers } : {}) };
  }
  return json(200, batch ? out : out[0], headers);
}

export function mcpParseError(): Reply {
  return json(400, rpcError(null, PARSE_ERROR, 'Parse error'));
}

export function mcpError(status: number, message: string): Reply {
  return json(status, rpcError(null, SERVER_ERROR, message));
}
