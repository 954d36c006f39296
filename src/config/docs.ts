/** The README's configuration table, generated from the schema (a test keeps the README equal to it). */
import { ConfigSchema, CONFIG_KEYS, envNameFor } from './index.js';

export function configTableMarkdown(): string {
  const rows = ['| key (in vault-loop.config.yaml) | environment variable | default | meaning |', '|---|---|---|---|'];
  for (const k of CONFIG_KEYS) {
    const field = ConfigSchema.shape[k];
    const parsed = field.safeParse(undefined);
    const def = parsed.success && parsed.data !== undefined ? `\`${JSON.stringify(parsed.data)}\`` : '–';
    rows.push(`| \`${k}\` | \`${envNameFor(k)}\` | ${def} | ${(field.description ?? '').replace(/\|/g, '\\|')} |`);
  }
  return rows.join('\n');
}
