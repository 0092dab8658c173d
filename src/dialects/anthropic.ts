import { Collector, common, eachRecord, finiteNumber, indexPath, isRecord, keyPath, walkStrings, type Common } from './collect.js';
import type { TextPart } from './types.js';

/**
 * Anthropic Messages request bodies. Content blocks nest (tool results and documents hold their
 * own blocks), and server tools add block types every few months, so blocks we do not model are
 * walked for strings instead of being skipped.
 */

type Kind = TextPart['kind'];

export function blocks(v: unknown, path: string, kind: Kind, c: Collector): void {
  if (typeof v === 'string') return c.text(path, v, kind);
  if (Array.isArray(v)) v.forEach((b, i) => block(b, indexPath(path, i), kind, c));
}

function block(b: unknown, p: string, kind: Kind, c: Collector): void {
  if (typeof b === 'string') return c.text(p, b, kind);
  if (!isRecord(b)) return;
  switch (b.type) {
    case 'text':
      return c.text(keyPath(p, 'text'), b.text, kind);
    case 'thinking':
      return c.text(keyPath(p, 'thinking'), b.thinking, kind);
    case 'image':
    case 'redacted_thinking':
    case 'container_upload':
      // Binary, encrypted or a file reference: nothing readable.
      return;
    case 'tool_use':
    case 'server_tool_use':
    case 'mcp_tool_use':
      c.call(b.name);
      return c.json(keyPath(p, 'input'), b.input, 'tool_arguments');
    case 'tool_result':
    case 'mcp_tool_result':
      return blocks(b.content, keyPath(p, 'content'), 'tool_result', c);
    case 'document': {
      c.text(keyPath(p, 'title'), b.title, kind);
      c.text(keyPath(p, 'context'), b.context, kind);
      const src = b.source;
      const sp = keyPath(p, 'source');
      // Plain-text documents carry their text in `data`; PDFs there are base64.
      if (isRecord(src) && src.type === 'text') c.text(keyPath(sp, 'data'), src.data, kind);
      else if (isRecord(src) && src.type === 'content') blocks(src.content, keyPath(sp, 'content'), kind, c);
      return;
    }
    case 'search_result':
      c.text(keyPath(p, 'title'), b.title, kind);
      c.text(keyPath(p, 'source'), b.source, kind);
      return blocks(b.content, keyPath(p, 'content'), kind, c);
    default: {
      const t = typeof b.type === 'string' ? b.type : '';
      walkStrings(b, p, t.endsWith('_tool_result') ? 'tool_result' : kind, c);
    }
  }
}

export function messages(body: Record<string, unknown>, c: Collector): Common {
  blocks(body.system, '$.system', 'system', c);
  eachRecord(body.messages, '$.messages', (m, p) => {
    blocks(m.content, keyPath(p, 'content'), m.role === 'system' ? 'system' : 'message', c);
  });
  eachRecord(body.tools, '$.tools', (t) => c.offer(t.name));
  return common(body, finiteNumber(body.max_tokens));
}
