import { isRecord } from './text.js';

/** How the fake model decides to call a tool and what arguments it invents, for every dialect. */

/** The user's text passed into tool arguments is capped so a huge prompt does not make a huge call. */
const MAX_ARG_CHARS = 1000;

function sampleValue(schema: unknown, text: string): unknown {
  if (!isRecord(schema)) return text;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  const t = Array.isArray(schema.type) ? schema.type.find((x) => x !== 'null') : schema.type;
  switch (t) {
    case 'number':
    case 'integer':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object':
      return {};
    default:
      return text;
  }
}

/**
 * Arguments that satisfy the simple shape of the tool's JSON schema: every required property (or the
 * first property when none is required) gets a value of its type, strings get the user's text. A
 * tool without properties gets `{"query": text}`.
 */
export function toolArguments(schema: unknown, userText: string): Record<string, unknown> {
  const text = userText.slice(0, MAX_ARG_CHARS);
  const props = isRecord(schema) && isRecord(schema.properties) ? schema.properties : null;
  if (!props || Object.keys(props).length === 0) return { query: text };
  const required = isRecord(schema) && Array.isArray(schema.required) ? schema.required.filter((k): k is string => typeof k === 'string' && k in props) : [];
  const keys = required.length > 0 ? required : [Object.keys(props)[0] as string];
  const args: Record<string, unknown> = {};
  for (const k of keys) args[k] = sampleValue(props[k], text);
  return args;
}

export interface ToolPick {
  name: string;
  schema: unknown;
}

/**
 * The tool to call given the offered tools (already reduced to name and schema) and the tool
 * choice: a named tool when forced, the first offered otherwise, none when the caller said "none".
 */
export function pickTool(tools: ToolPick[], forcedName: string | null, none: boolean): ToolPick | null {
  if (none || tools.length === 0) return null;
  if (forcedName !== null) return tools.find((t) => t.name === forcedName) ?? tools[0] ?? null;
  return tools[0] ?? null;
}
