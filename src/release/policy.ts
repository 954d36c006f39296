/**
 * The release policy (`<vault>/release-policy.yaml`): the one definition of "published".
 * Nothing else in vault-loop may decide which questions are in a release; call `isPublished`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { STATUSES } from '../corpus/taxonomy.js';
import { CorpusFileError } from '../errors.js';
import { nullIfMissing } from '../util/files.js';

export const POLICY_FILE = 'release-policy.yaml';

/** `null` in the file means "empty", as in the original (`x or []`). */
const stringList = z
  .array(z.string())
  .nullish()
  .transform((v) => v ?? []);

export const ReleasePolicySchema = z
  .looseObject({
    policy_version: z.int().positive().default(1),
    include: z
      .object({
        status: z
          .array(z.enum(STATUSES))
          .nullish()
          .transform((v) => v ?? ['published' as const]),
        require_validated: z.boolean().default(false),
      })
      .nullish()
      .transform((v) => v ?? { status: ['published' as const], require_validated: false }),
    exclude_topics: stringList,
    exclude_ids: stringList,
  });

export type ReleasePolicy = z.output<typeof ReleasePolicySchema>;

export const DEFAULT_POLICY: ReleasePolicy = Object.freeze(ReleasePolicySchema.parse({}));

export interface LoadedPolicy {
  policy: ReleasePolicy;
  /** The parsed file as written (what the `__policy__` leaf hashes), or null when the file is absent. */
  raw: unknown;
  /** Absolute path, or null when the defaults apply. */
  path: string | null;
}

/** Validates a parsed policy; `source` names the file in the error. */
export function parsePolicy(raw: unknown, source: string): ReleasePolicy {
  const r = ReleasePolicySchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const first = r.error.issues[0]!;
  const where = first.path.length > 0 ? first.path.join('.') : '(top level)';
  throw new CorpusFileError(source, `invalid release policy at ${where}: ${first.message}`);
}

/** Reads `<vault>/release-policy.yaml`; the defaults when it does not exist. */
export async function loadPolicy(vaultDir: string): Promise<LoadedPolicy> {
  const path = join(vaultDir, POLICY_FILE);
  const text = await nullIfMissing(readFile(path, 'utf8'));
  if (text === null) return { policy: DEFAULT_POLICY, raw: null, path: null };
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new CorpusFileError(path, `not valid YAML: ${e.message.split('\n')[0]}`, e.linePos?.[0]?.line);
  }
  const raw = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new CorpusFileError(path, 'expected a mapping at the top level (policy_version, include, exclude_topics, exclude_ids)', 1);
  }
  return { policy: parsePolicy(raw, path), raw, path };
}

/** The one rule: status allowed, validated when required, id and topic not excluded. */
export function isPublished(doc: Readonly<Record<string, unknown>>, policy: ReleasePolicy): boolean {
  if (!(policy.include.status as readonly unknown[]).includes(doc.status)) return false;
  if (policy.include.require_validated && doc.validated !== true) return false;
  if (typeof doc.id === 'string' && policy.exclude_ids.includes(doc.id)) return false;
  if (typeof doc.topic === 'string' && policy.exclude_topics.includes(doc.topic)) return false;
  return true;
}
