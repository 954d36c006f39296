/**
 * The YAML package, loaded on first use: most CLI commands (and every `--help`) never read YAML,
 * a warm `analyze` reads only the files that changed (usually through the fast scanner), and
 * loading the parser costs a noticeable part of a CLI start.
 */
import { createRequire } from 'node:module';

import type { DocumentOptions, ParseOptions, SchemaOptions, ToJSOptions } from 'yaml';

type YamlModule = typeof import('yaml');
let yaml: YamlModule | undefined;

/** The `yaml` package, loaded synchronously the first time (its Node entry is CommonJS). */
export function yamlModule(): YamlModule {
  return (yaml ??= createRequire(import.meta.url)('yaml') as YamlModule);
}

/** `yaml.parse`. */
export function parseYaml(text: string, options?: ParseOptions & DocumentOptions & SchemaOptions & ToJSOptions): unknown {
  return yamlModule().parse(text, options);
}
