/** Global setup of the sample suite: no sample, no run (a failure that says why, never a skip). */
import { vaultSampleDir } from '../helpers/fixtures.js';

export default function requireSample(): void {
  vaultSampleDir();
}
