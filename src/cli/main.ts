/**
 * The CLI: a thin shell over the functions the services use. Each command lives in
 * src/cli/commands/<name>.ts and exports `register(program)`.
 */
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { reportFatal } from './output.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('vault-loop')
    .description('Keeps an interview-question vault balanced with LLMs: analyze gaps, generate, render, judge, prune; on Redis + BullMQ.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : e.exitCode || 2;
    return reportFatal(e);
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
