import type { Command } from 'commander';
import type { RenderFlags } from '../actions/render.js';

export function register(program: Command): void {
  program
    .command('render')
    .description('Render stale or missing visuals (visuals/<track>/<id>.dot or .py → .svg) and check every SVG.')
    .option('--vault <dir>', 'the vault folder (holds questions/ and visuals/); default: config "vault"')
    .option('--force', 're-render every visual, stale or not')
    .option('--id <id>', 'only the question with this id')
    .option('--allow-python-visuals', 'run matplotlib scripts (sandboxed); without it they are skipped')
    .option('--dry-run', 'list what would be rendered; write nothing')
    .option('--timeout-ms <ms>', 'time limit per matplotlib script (default 60000)')
    .action(async (flags: RenderFlags) => (await import('../actions/render.js')).render(flags));
}
