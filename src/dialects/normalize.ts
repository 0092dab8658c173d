import { Collector, isRecord, walkStrings, type Common } from './collect.js';
import { messages } from './anthropic.js';
import { mcp } from './mcp.js';
import { chat, completions, embeddings, responses } from './openai.js';
import type { ApiKind, NormalizedRequest } from './types.js';

/**
 * One normalised view per request whatever the dialect (SPEC §4), so DLP and policies see the
 * same text the model will. Never throws: a body of an unexpected shape yields whatever could be
 * read from it, and the upstream is left to reject it as it would without us.
 */

const EMPTY: Common = { model: null, stream: false, maxTokens: null };

function read(api: ApiKind, body: unknown, c: Collector): Common {
  if (api === 'mcp') return mcp(body, c);
  // Any other JSON API (Anthropic count_tokens, a tool's HTTP API): every string a person or a
  // program could have put a secret in, so no endpoint is a way around DLP.
  if (api === 'http') {
    walkStrings(body, '$', 'input', c);
    return EMPTY;
  }
  if (!isRecord(body)) return EMPTY;
  switch (api) {
    case 'openai_chat':
      return chat(body, c);
    case 'openai_completions':
      return completions(body, c);
    case 'openai_responses':
      return responses(body, c);
    case 'anthropic_messages':
      return messages(body, c);
    case 'embeddings':
      return embeddings(body, c);
    default:
      return EMPTY;
  }
}

export function normalizeRequest(api: ApiKind, body: unknown): NormalizedRequest {
  const c = new Collector();
  let common = EMPTY;
  try {
    common = read(api, body, c);
  } catch {
    // Only reachable through exotic inputs (getters, proxies); keep what was collected.
  }
  return {
    api,
    ...common,
    texts: c.texts,
    prompt: c.texts.map((t) => t.text).join('\n'),
    toolsOffered: c.offered,
    toolsCalled: c.called,
  };
}
