/**
 * YAML parsing for the config file and a vault's taxonomy, loaded on first use: most CLI commands
 * (and every `--help`) never read YAML, and the parser costs a noticeable part of a cold start.
 */
import { createRequire } from 'node:module';

import type { DocumentOptions, ParseOptions, SchemaOptions, ToJSOptions } from 'yaml';

type YamlModule = typeof import('yaml');
let yaml: YamlModule | undefined;

/** `yaml.parse`, with the package loaded synchronously the first time (its Node entry is CommonJS). */
export function parseYaml(text: string, options?: ParseOptions & DocumentOptions & SchemaOptions & ToJSOptions): unknown {
  yaml ??= createRequire(import.meta.url)('yaml') as YamlModule;
  return yaml.parse(text, options);
}
