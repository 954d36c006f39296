/**
 * The CLI: a thin shell over the functions the services use. Each command lives in
 * src/cli/commands/<name>.ts and exports `register(program)`.
 */
import { CommanderError } from 'commander';
import { reportFatal } from './output.js';
import { buildProgram } from './program.js';

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram(argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : e.exitCode || 2;
    return reportFatal(e);
  }
}

process.exitCode = await main(process.argv.slice(2));
// A command that returned has closed what it opened; should a stray handle keep the event loop
// alive (a half-closed socket, say), do not hang the user's terminal.
setTimeout(() => process.exit(), 3000).unref();
