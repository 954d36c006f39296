/**
 * A parsed YAML or JSON mapping whose values are not checked yet (a file as read, a model's
 * answer, a JSON body): the one guard for it, so no caller casts.
 */
export function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
