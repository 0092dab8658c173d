/**
 * Action types (SPEC §4), from the method, the path, the body and the agent's upstream type.
 * Pure: the proxy, the policy tester and the simulator all call this one function.
 */
export type ActionType = 'chat_completion' | 'embedding' | 'tool_call' | 'mcp_request' | 'http_request';

export interface Classification {
  actionType: ActionType;
  /** Name of the tool for tools/call. */
  toolName: string | null;
  /** Id(s) of the JSON-RPC request, for errors written back in JSON-RPC. */
  rpcId: unknown;
  isJsonRpc: boolean;
}

const CHAT_SUFFIXES = ['/chat/completions', '/completions', '/responses', '/messages'];

function isRpcRequest(x: unknown): x is { jsonrpc: '2.0'; method: string; id?: unknown; params?: { name?: unknown } } {
  return typeof x === 'object' && x !== null && (x as { jsonrpc?: unknown }).jsonrpc === '2.0'
    && typeof (x as { method?: unknown }).method === 'string';
}

export function classify(method: string, path: string, body: unknown, upstreamType: string): Classification {
  const p = path.split('?', 1)[0]!.replace(/\/+$/, '');
  const rpc = Array.isArray(body) ? body.filter(isRpcRequest) : isRpcRequest(body) ? [body] : [];
  if (rpc.length > 0) {
    const call = rpc.find((r) => r.method === 'tools/call');
    const rpcId = Array.isArray(body) ? null : (rpc[0]!.id ?? null);
    if (call && !Array.isArray(body)) {
      return { actionType: 'tool_call', toolName: typeof call.params?.name === 'string' ? call.params.name : null, rpcId, isJsonRpc: true };
    }
    return { actionType: call ? 'tool_call' : 'mcp_request', toolName: call && typeof call.params?.name === 'string' ? call.params.name : null, rpcId, isJsonRpc: true };
  }
  if (upstreamType === 'mcp') return { actionType: 'mcp_request', toolName: null, rpcId: null, isJsonRpc: false };
  if (method === 'POST') {
    if (p.endsWith('/embeddings')) return { actionType: 'embedding', toolName: null, rpcId: null, isJsonRpc: false };
    if (CHAT_SUFFIXES.some((s) => p.endsWith(s))) return { actionType: 'chat_completion', toolName: null, rpcId: null, isJsonRpc: false };
  }
  return { actionType: 'http_request', toolName: null, rpcId: null, isJsonRpc: false };
}
