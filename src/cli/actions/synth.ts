import { synthesizeVault } from '../../corpus/synth.js';
import { UserError } from '../output.js';


export async function synth(opts: { out: string; questions: number; seed: string }): Promise<void> {
  const started = Date.now();
  let result;
  try {
    result = await synthesizeVault({ outDir: opts.out, questions: opts.questions, seed: opts.seed });
  } catch (e) {
    if (e instanceof Error && /already holds files/.test(e.message)) throw new UserError(`synth: ${e.message}`);
    throw e;
  }
  const tracks = Object.entries(result.byTrack).map(([t, n]) => `${t} ${n}`).join(', ');
  const statuses = Object.entries(result.byStatus).map(([s, n]) => `${s} ${n}`).join(', ');
  process.stdout.write(`wrote ${result.files} questions and ${result.visuals} visuals to ${result.outDir} in ${Date.now() - started} ms\n  tracks: ${tracks}\n  statuses: ${statuses}\n`);
}
