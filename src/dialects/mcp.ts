import { Collector, indexPath, isRecord, keyPath, walkStrings, type Common } from './collect.js';

/**
 * MCP (JSON-RPC 2.0) bodies, single or batched. A tools/call sends its arguments to a tool;
 * every other request, notification or client response (sampling results, elicitation answers)
 * can carry text too, so their params and results are walked for strings.
 */

function message(m: unknown, p: string, c: Collector): void {
  if (!isRecord(m)) return;
  const params = m.params;
  if (m.method === 'tools/call' && isRecord(params)) {
    c.call(params.name);
    c.json(keyPath(keyPath(p, 'params'), 'arguments'), params.arguments, 'tool_arguments');
    for (const [k, v] of Object.entries(params)) {
      if (k !== 'name' && k !== 'arguments') walkStrings(v, keyPath(keyPath(p, 'params'), k), 'input', c);
    }
    return;
  }
  if (typeof m.method === 'string') return walkStrings(params, keyPath(p, 'params'), 'input', c);
  walkStrings(m.result, keyPath(p, 'result'), 'input', c);
}

export function mcp(body: unknown, c: Collector): Common {
  if (Array.isArray(body)) body.forEach((m, i) => message(m, indexPath('$', i), c));
  else message(body, '$', c);
  return { model: null, stream: false, maxTokens: null };
}
