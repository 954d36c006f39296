/**
 * Dense ids in order of first sight: the id of `key` in `ids`, else the next index of `items`,
 * where `value` is appended. Used for the vault index's string table and its record table.
 */
export function internId<K, V>(ids: Map<K, number>, items: V[], key: K, value: V): number {
  let id = ids.get(key);
  if (id === undefined) {
    id = items.length;
    items.push(value);
    ids.set(key, id);
  }
  return id;
}
