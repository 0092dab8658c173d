import { isRecord } from './collect.js';
import type { ApiKind, Usage } from './types.js';

/**
 * Token usage of a complete (non-streamed) JSON answer, per dialect (SPEC §7). Null when the
 * answer reports none (errors, MCP, plain HTTP), so "unknown" is never recorded as zero.
 */

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function pair(input: number | null, output: number | null): Usage | null {
  if (input === null && output === null) return null;
  return { inputTokens: input ?? 0, outputTokens: output ?? 0 };
}

export function usageFromBody(api: ApiKind, body: unknown): Usage | null {
  if (!isRecord(body) || !isRecord(body.usage)) return null;
  const u = body.usage;
  switch (api) {
    case 'openai_chat':
    case 'openai_completions':
      return pair(num(u.prompt_tokens), num(u.completion_tokens));
    case 'openai_responses':
      return pair(num(u.input_tokens), num(u.output_tokens));
    case 'embeddings': {
      const input = num(u.prompt_tokens);
      return input === null ? null : { inputTokens: input, outputTokens: 0 };
    }
    case 'anthropic_messages': {
      const input = num(u.input_tokens);
      if (input === null && num(u.output_tokens) === null) return null;
      // Cached prompt tokens are counted apart from input_tokens, but they are input all the same.
      const cached = (num(u.cache_creation_input_tokens) ?? 0) + (num(u.cache_read_input_tokens) ?? 0);
      return { inputTokens: (input ?? 0) + cached, outputTokens: num(u.output_tokens) ?? 0 };
    }
    default:
      return null;
  }
}
