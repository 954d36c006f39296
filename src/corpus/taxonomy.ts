/**
 * The taxonomy: its vocabulary (src/domain/taxonomy.ts, re-exported here) and the topic × track
 * applicability a vault's `schema/taxonomy_data.yaml` may narrow.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseYaml } from '../util/yaml.js';
import { isTrack, TOPICS, TRACK_TOPIC_BLOCKLIST, type Track } from '../domain/taxonomy.js';

export * from '../domain/taxonomy.js';

/**
 * Topic × track applicability. Read from a vault's `schema/taxonomy_data.yaml` when present;
 * topics it does not list, and the `global` track, are applicable everywhere. The hard-coded
 * blocklist always applies on top.
 */
export class Applicability {
  readonly #tracksByTopic: Map<string, Set<Track>>;
  readonly source: string;

  constructor(tracksByTopic: Map<string, Set<Track>>, source: string) {
    this.#tracksByTopic = tracksByTopic;
    this.source = source;
  }

  static builtin(): Applicability {
    return new Applicability(new Map(), 'builtin (blocklist only)');
  }

  /** Reads `<vault>/schema/taxonomy_data.yaml`; falls back to the blocklist alone when absent. */
  static forVault(vaultDir: string): Applicability {
    const file = join(vaultDir, 'schema', 'taxonomy_data.yaml');
    if (!existsSync(file)) return Applicability.builtin();
    const doc = parseYaml(readFileSync(file, 'utf8'), { maxAliasCount: 100 }) as unknown;
    const map = new Map<string, Set<Track>>();
    const topics = (doc as { topics?: unknown })?.topics;
    if (Array.isArray(topics)) {
      for (const t of topics) {
        const id = (t as { id?: unknown })?.id;
        const tracks = (t as { tracks?: unknown })?.tracks;
        if (typeof id === 'string' && Array.isArray(tracks)) {
          map.set(id, new Set(tracks.filter(isTrack)));
        }
      }
    }
    return new Applicability(map, file);
  }

  applies(topic: string, track: Track): boolean {
    if (TRACK_TOPIC_BLOCKLIST[track].includes(topic)) return false;
    if (track === 'global') return true;
    const tracks = this.#tracksByTopic.get(topic);
    return tracks === undefined ? true : tracks.has(track);
  }

  /** Every one of the 87 topics applicable to `track`, in taxonomy order. */
  topicsFor(track: Track): string[] {
    return TOPICS.filter((t) => this.applies(t, track));
  }

  /** The topic → tracks map as plain data (stored with a run, so stateless workers share it). */
  toRecord(): Record<string, Track[]> {
    return Object.fromEntries([...this.#tracksByTopic].map(([t, s]) => [t, [...s]]));
  }

  /** Number of topics the taxonomy file listed (0 for the builtin). */
  get listedTopicCount(): number {
    return this.#tracksByTopic.size;
  }
}
