import { parseArgs, type ParseArgsConfig } from 'node:util';
import { RenLayerError } from '../core/errors.js';
import { isConnectionError } from '../db/database.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  description: string;
}

/** One `renlayer …` command: its help text, its options and what it does. */
export interface Command {
  /** e.g. "key create" */
  name: string;
  summary: string;
  usage: string;
  options?: Record<string, OptionSpec>;
  /** How many positional arguments it takes. */
  positionals?: { min: number; max: number; names: string };
  run(args: ParsedArgs): Promise<number | void>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Wrong usage: exit code 2, the reason on stderr. */
export class UsageError extends Error {}

export function helpText(cmd: Command): string {
  const lines = [`Usage: renlayer ${cmd.usage}`, '', cmd.summary];
  const opts = Object.entries(cmd.options ?? {});
  if (opts.length > 0) {
    lines.push('', 'Options:');
    for (const [name, o] of opts) {
      const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ' VALUE' : ''}`;
      lines.push(`  ${flag.padEnd(26)}${o.description}`);
    }
  }
  lines.push(`  ${'--help'.padEnd(26)}show this help`);
  return lines.join('\n') + '\n';
}

export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs {
  const options = Object.fromEntries(
    Object.entries(cmd.options ?? {}).map(([k, { description: _, ...spec }]) => [k, spec]),
  ) as NonNullable<ParseArgsConfig['options']>;
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
  const want = cmd.positionals ?? { min: 0, max: 0, names: '' };
  if (parsed.positionals.length < want.min) throw new UsageError(`missing ${want.names}`);
  if (parsed.positionals.length > want.max) {
    throw new UsageError(`unexpected argument "${parsed.positionals[want.max]}"`);
  }
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
}

export function required(args: ParsedArgs, name: string): string {
  const v = args.values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

/** `--json`: exactly one JSON document on stdout; otherwise the human form. */
export function output(args: ParsedArgs, value: unknown, human: string): void {
  process.stdout.write(args.values.json ? JSON.stringify(value) + '\n' : human.endsWith('\n') ? human : human + '\n');
}

export const JSON_OPTION = { json: { type: 'boolean', description: 'print one JSON document on stdout' } } as const;

/** Errors a user can act on become one line on stderr and an exit code; anything else is a bug. */
export function exitCodeFor(err: unknown): { code: number; message: string } | undefined {
  if (err instanceof UsageError) return { code: 2, message: err.message };
  if (err instanceof RenLayerError) {
    // A list of problems (one per line, e.g. `renlayer apply`) keeps the code on its first line.
    const [first, ...rest] = err.message.split('\n');
    return { code: err.code === 'usage' ? 2 : 1, message: [`${first} (${err.code})`, ...rest].join('\n') };
  }
  if (err instanceof Error && err.name === 'ConfigError') return { code: 1, message: err.message };
  // The database refused or could not be reached: the user fixes the URL or starts the server.
  // pg's messages name the host, user or database, never the password.
  const sqlState = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && (isConnectionError(err) || (typeof sqlState === 'string' && /^(28|3D)/.test(sqlState)))) {
    return { code: 1, message: `cannot use the database: ${err.message || String(sqlState)} (check RENLAYER_DATABASE_URL)` };
  }
  return undefined;
}
