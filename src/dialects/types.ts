/**
 * The dialect-independent view of a call that DLP, policies and limits work on (SPEC §4), so
 * that no provider's wire format can hide text from them.
 */
export type ApiKind =
  | 'openai_chat'
  | 'openai_completions'
  | 'openai_responses'
  | 'anthropic_messages'
  | 'embeddings'
  | 'mcp'
  | 'http';

export interface TextPart {
  path: string;
  text: string;
  kind: 'message' | 'system' | 'tool_arguments' | 'tool_result' | 'input';
}

export interface NormalizedRequest {
  api: ApiKind;
  model: string | null;
  stream: boolean;
  maxTokens: number | null;
  /** Every piece of text the model will see, in order, with the JSON path (e.g. `$.messages[2].content[0].text`) it came from. */
  texts: TextPart[];
  /** texts joined with "\n" — what policies call "the prompt". */
  prompt: string;
  toolsOffered: string[];
  /** Tool calls present in the request history (assistant tool_calls / tool_use blocks) and MCP tools/call names. */
  toolsCalled: string[];
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}
