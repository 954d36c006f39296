/**
 * Vitest global setup: tests spawn bin/vault-loop.js, which runs the built dist/cli; rebuild it
 * first when any source is newer (esbuild, about a second), so no test runs a stale build. The
 * optional native addon is rebuilt the same way (when a compiler is there; see bin/build.js).
 */
// @ts-expect-error -- a plain ESM script without types (bin/build.js)
import { build, buildNative } from '../../bin/build.js';

export default async function setup(): Promise<void> {
  await (build as (o: { ifStale: boolean }) => Promise<unknown>)({ ifStale: true });
  (buildNative as () => string)();
}
