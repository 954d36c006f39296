import type { Command } from 'commander';
import type { ManifestFlags } from '../actions/manifest.js';

export function register(program: Command): void {
  program
    .command('manifest')
    .description('Write vault-manifest.json (release hash, counts, distributions) for the published questions, or check that it is fresh.')
    .requiredOption('--vault <dir>', 'the vault folder (holds questions/ and release-policy.yaml)')
    .option('--out <file>', 'manifest path (default: <vault>/vault-manifest.json)')
    .option('--check', 'write nothing; exit 1 when the stored manifest is missing or stale (release hash or counts differ), 0 when fresh')
    .option('--release-id <id>', 'release id to stamp (default "dev"); with --check it is compared too')
    .action(async (flags: ManifestFlags) => (await import('../actions/manifest.js')).manifest(flags));
}
