import { renderConfigHelp } from '../config/index.js';
import { VERSION } from '../core/version.js';
import { agentCreate, keyCreate, keyRevoke, operatorAdd, tenantCreate, tracesTail } from './admin.js';
import { applyCommand } from './apply.js';
import { exitCodeFor, helpText, parseCommandArgs, UsageError, type Command } from './command.js';
import { dlpScan } from './dlp.js';
import { exportCommand } from './export.js';
import { policyList, policyTest } from './policy.js';
import { apiCommand, migrateCommand, mockUpstreamCommand, proxyCommand } from './servers.js';
import { upCommand } from './up.js';

const COMMANDS: Command[] = [
  upCommand, proxyCommand, apiCommand, migrateCommand, mockUpstreamCommand,
  tenantCreate, operatorAdd, agentCreate, keyCreate, keyRevoke, tracesTail, dlpScan, applyCommand, exportCommand, policyTest, policyList,
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    `renlayer ${VERSION} — inline governance and security layer for AI agents`,
    '',
    'Usage: renlayer <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Every command answers --help. --json prints one JSON document on stdout; logs go to stderr.',
    '',
    'Configuration (environment variables):',
    renderConfigHelp(),
  ].join('\n') + '\n';
}

function groupHelp(group: string): string | undefined {
  const subs = COMMANDS.filter((c) => c.name.startsWith(group + ' '));
  if (subs.length === 0) return undefined;
  return [`Usage: renlayer ${group} <subcommand> [options]`, '', 'Subcommands:',
    ...subs.map((c) => `  ${c.usage}\n      ${c.summary}`)].join('\n') + '\n';
}

/** Finds the command named by the first one or two words of argv. */
function resolve(argv: string[]): { cmd: Command; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const cmd = COMMANDS.find((c) => c.name === name);
    if (cmd) return { cmd, rest: argv.slice(words) };
  }
  return undefined;
}

export async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  // Asked-for help goes to stdout (exit 0); help shown because the command was incomplete is
  // wrong usage: stderr, exit 2, so a script capturing stdout never mistakes it for output.
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    (first === undefined ? process.stderr : process.stdout).write(overview());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v' || first === 'version') {
    process.stdout.write(VERSION + '\n');
    return 0;
  }
  const found = resolve(argv);
  try {
    if (!found) {
      const group = groupHelp(first);
      if (group && (argv.length === 1 || argv[1] === '--help' || argv[1] === '-h')) {
        (argv.length === 1 ? process.stderr : process.stdout).write(group);
        return argv.length === 1 ? 2 : 0;
      }
      throw new UsageError(group ? `unknown subcommand "${argv.slice(0, 2).join(' ')}"; see renlayer ${first} --help`
        : `unknown command "${first}"; see renlayer --help`);
    }
    if (found.rest.includes('--help') || found.rest.includes('-h')) {
      process.stdout.write(helpText(found.cmd));
      return 0;
    }
    const args = parseCommandArgs(found.cmd, found.rest);
    return (await found.cmd.run(args)) ?? 0;
  } catch (err) {
    const known = exitCodeFor(err);
    if (!known) throw err;
    process.stderr.write(`renlayer${found ? ' ' + found.cmd.name : ''}: ${known.message}\n`);
    if (known.code === 2 && found) process.stderr.write(`usage: renlayer ${found.cmd.usage}\n`);
    return known.code;
  }
}
