/**
 * Import direction (run by `npm run lint`; docs/ARCHITECTURE.md draws the same picture).
 *
 * Imports point DOWN the layers below: a module may import its own layer or a lower one, never a
 * higher one, and no folders form a cycle (also not inside one layer). A folder not created yet
 * (src/core, src/domain, src/state) is already placed, so its first file is held to its layer.
 */

/** Highest first. Each entry: the layer's name and the path patterns of its modules. */
export const LAYERS = [
  { name: 'interface', paths: ['^src/cli/', '^dashboard/'] },
  { name: 'services and host', paths: ['^src/services/', '^src/host/'] },
  { name: 'workers and state', paths: ['^src/workers/', '^src/state/', '^src/scheduler/'] },
  { name: 'core', paths: ['^src/core/'] },
  { name: 'infra and edges', paths: ['^src/(queues|redis|corpus|analysis|checks|visuals|llm|release)/'] },
  { name: 'config', paths: ['^src/config/'] },
  { name: 'domain', paths: ['^src/domain/'] },
  { name: 'base', paths: ['^src/util/', '^src/errors\\.ts$'] },
];

/** One rule per layer: nothing in it imports a layer above it. */
const upward = LAYERS.slice(1).map((layer, i) => ({
  name: `no-upward-import-from-${layer.name.replaceAll(' ', '-')}`,
  comment: `${layer.name} may import only its own layer or a lower one (not ${LAYERS.slice(0, i + 1)
    .map((l) => l.name)
    .join(', ')})`,
  severity: 'error',
  from: { path: layer.paths },
  to: { path: LAYERS.slice(0, i + 1).flatMap((l) => l.paths) },
}));

/**
 * Folder cycles, checked in a cruise of their own (bin/check-imports.js): dependency-cruiser's
 * folder scope rolls every folder's imports up into its parents, so `src` (which holds
 * src/errors.ts beside the folders) would contain every folder, and any import of src/errors.ts
 * would close a cycle through it. That cruise leaves src/errors.ts out; the module rules below
 * still hold it to the lowest layer.
 */
export const FOLDER_RULES = [
  {
    name: 'no-folder-cycle',
    comment: 'folders import one another one way only: a folder cycle means a rule lives in the wrong folder',
    severity: 'error',
    scope: 'folder',
    from: { path: '^(src/|dashboard)' },
    to: { circular: true },
  },
];
export const FOLDER_CRUISE_EXCLUDE = '^src/errors\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    ...upward,
    {
      name: 'no-module-cycle',
      comment: 'no module reaches itself through its imports',
      severity: 'error',
      from: { path: '^(src|dashboard)/' },
      to: { circular: true },
    },
    {
      name: 'dashboard-not-cli',
      comment: 'the dashboard never imports the CLI (what both do lives in src/services)',
      severity: 'error',
      from: { path: '^dashboard/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'cli-starts-dashboard-through-its-entry',
      comment: "the CLI reaches the dashboard only through dashboard/index.ts (to start its server)",
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^dashboard/', pathNot: '^dashboard/index\\.ts$' },
    },
    {
      name: 'core-is-pure',
      comment: 'src/core takes its effects through ports: no BullMQ, no Redis client, no file system',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: ['(^|/)node_modules/(bullmq|ioredis)/', '^(bullmq|ioredis)(/|$)', '^(node:)?fs(/promises)?$'] },
    },
    {
      name: 'domain-is-pure',
      comment: 'src/domain holds schemas and types: no BullMQ, no Redis client, no file system',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { path: ['(^|/)node_modules/(bullmq|ioredis)/', '^(bullmq|ioredis)(/|$)', '^(node:)?fs(/promises)?$'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules|test-artifacts)/' },
    // A type-only import is still a dependency on the layer it names.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6'],
  },
};
