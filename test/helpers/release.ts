/** Release checks shared by the unit suite (the fixture vault) and the sample suite (the real vault sample). */
import { loadVault } from '../../src/corpus/loader.js';

/** The published questions of a vault, counted without the release module. */
export async function expectedCounts(dir: string) {
  const { files } = await loadVault(dir);
  const pub = files.filter((f) => f.doc?.status === 'published').map((f) => f.doc!);
  const tally = (k: string) => pub.reduce<Record<string, number>>((acc, d) => ({ ...acc, [String(d[k])]: (acc[String(d[k])] ?? 0) + 1 }), {});
  const chains = new Set(pub.flatMap((d) => (Array.isArray(d.chains) ? d.chains.map((c: { id: string }) => c.id) : [])));
  return { docs: pub, count: pub.length, tracks: tally('track'), levels: tally('level'), chains: chains.size };
}

// python3 (stdlib) recomputes the release root from the same parsed documents.
export const PY_ROOT = String.raw`
import hashlib, json, sys, unicodedata
WL = {"id","title","track","level","zone","topic","competency_area","bloom_level","phase","chains","status","scenario","question","details","tags","provenance"}
def norm(o):
    if isinstance(o, str): return unicodedata.normalize("NFC", o).replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    if isinstance(o, dict): return {k: norm(v) for k, v in o.items()}
    if isinstance(o, list): return [norm(v) for v in o]
    return o
h = lambda o: hashlib.sha256(json.dumps(norm(o), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")).hexdigest()
inp = json.load(sys.stdin)
leaves = sorted((d["id"], h({k: d[k] for k in WL if d.get(k) is not None})) for d in inp["docs"])
leaves += [("__taxonomy__", h({})), ("__chains__", h({})), ("__zones__", h({})), ("__policy__", h(inp["policy"])), ("__canon_version__", hashlib.sha256(b"canon-v2").hexdigest())]
print(hashlib.sha256(b"\n".join(("%s:%s" % l).encode() for l in leaves)).hexdigest())
`;
