import { CONFIG_VARIABLES } from './schema.js';
import type { ConfigVariable } from './schema.js';

/** The environment section of `--help`: one block per variable, aligned, for a terminal. */
export function renderConfigHelp(variables: ReadonlyArray<ConfigVariable> = CONFIG_VARIABLES): string {
  const lines = ['Environment:'];
  for (const v of variables) {
    lines.push(`  ${v.name}${v.secret ? '  (secret)' : ''}`);
    lines.push(`      ${v.description}`);
    lines.push(`      Expected: ${v.expected}. Default: ${v.default}.`);
  }
  return lines.join('\n');
}

/** The Markdown table for docs/configuration.md. */
export function renderConfigMarkdown(variables: ReadonlyArray<ConfigVariable> = CONFIG_VARIABLES): string {
  const cell = (text: string): string => text.replaceAll('|', '\\|');
  const rows = variables.map(
    (v) => `| \`${v.name}\` | ${cell(v.description)}${v.secret ? ' Secret: never logged.' : ''} | ${cell(v.expected)} | ${cell(v.default)} |`,
  );
  return ['| Variable | Meaning | Expected | Default |', '|---|---|---|---|', ...rows].join('\n');
}
