/**
 * The taxonomy's vocabulary: the one source of truth for every enum and list in vault-loop.
 * Orders matter: the reference analyzer iterates tracks, zones, levels and areas in exactly
 * these orders, and its stable sort keeps that order for ties. Pure data (no file access):
 * src/corpus/taxonomy.ts adds what is read from a vault (topic × track applicability).
 */
export const TRACKS = ['cloud', 'edge', 'mobile', 'tinyml', 'global'] as const;
export type Track = (typeof TRACKS)[number];

export const LEVELS = ['L1', 'L2', 'L3', 'L4', 'L5', 'L6+'] as const;
export type Level = (typeof LEVELS)[number];

export const BLOOM_LEVELS = ['remember', 'understand', 'apply', 'analyze', 'evaluate', 'create'] as const;
export type BloomLevel = (typeof BLOOM_LEVELS)[number];

export const PHASES = ['training', 'inference', 'both'] as const;
export const STATUSES = ['draft', 'published', 'flagged', 'archived', 'deleted'] as const;
export type Status = (typeof STATUSES)[number];
export const PROVENANCES = ['human', 'llm-draft', 'llm-then-human-edited', 'imported'] as const;
export const VISUAL_KINDS = ['svg', 'mermaid'] as const;
export const HUMAN_REVIEW_STATUSES = ['not-reviewed', 'verified', 'flagged', 'needs-rework'] as const;
/**
 * The fields that place a question in the taxonomy, in the original generator's order: the
 * writer's key order and the release's hashed fields both list them in this order.
 */
export const PLACEMENT_FIELDS = ['track', 'level', 'zone', 'topic', 'competency_area', 'bloom_level', 'phase'] as const;

export const VERDICTS = ['PASS', 'NEEDS_FIX', 'DROP'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Generator's level → Bloom mapping (fallback: apply). */
export const LEVEL_BLOOM: Record<Level, BloomLevel> = {
  L1: 'remember',
  L2: 'understand',
  L3: 'apply',
  L4: 'analyze',
  L5: 'evaluate',
  'L6+': 'create',
};

export interface ZoneInfo {
  skills: readonly string[];
  description: string;
  /** Level affinity (zones.py), the soft zone × level constraint. */
  levels: readonly Level[];
}

/** The zones in the analyzer's order (ties in its stable sort keep it): ZONES lists these keys. */
const ZONE_TABLE = {
  recall: { skills: ['recall'], description: 'Facts & definitions', levels: ['L1', 'L2'] },
  analyze: { skills: ['analyze'], description: 'Tradeoffs & reasoning', levels: ['L3', 'L4'] },
  design: { skills: ['design'], description: 'Architecture decisions', levels: ['L4', 'L5'] },
  implement: { skills: ['implement'], description: 'Napkin math & building', levels: ['L2', 'L3'] },
  diagnosis: { skills: ['recall', 'analyze'], description: 'Identify and explain failures', levels: ['L3', 'L4'] },
  fluency: { skills: ['recall', 'implement'], description: 'Math from memory', levels: ['L2', 'L3'] },
  specification: { skills: ['recall', 'design'], description: 'Constraints to architecture', levels: ['L4', 'L5'] },
  evaluation: { skills: ['analyze', 'design'], description: 'Compare architectures by reasoning', levels: ['L5', 'L6+'] },
  realization: { skills: ['design', 'implement'], description: 'Architecture to concrete numbers', levels: ['L5', 'L6+'] },
  optimization: { skills: ['analyze', 'implement'], description: 'Diagnose and fix bottlenecks', levels: ['L4', 'L5'] },
  mastery: { skills: ['recall', 'analyze', 'design', 'implement'], description: 'Full Staff-level synthesis', levels: ['L6+'] },
} satisfies Record<string, ZoneInfo>;
export type Zone = keyof typeof ZONE_TABLE;
export const ZONE_INFO: Readonly<Record<Zone, ZoneInfo>> = ZONE_TABLE;
export const ZONES = Object.keys(ZONE_INFO) as readonly Zone[];

export function inLevelAffinity(zone: Zone, level: Level): boolean {
  return ZONE_INFO[zone].levels.includes(level);
}

/**
 * The 87 curated topics with their area. The 79 of enums.py keep their area from there; the 8
 * v1.0 additions had none in the original and are given one here (communication-computation-overlap
 * follows the analyzer, generator and REMAP: optimization; taxonomy_data files it under parallelism).
 */
const TOPIC_TABLE = {
  compute: [
    'roofline-analysis',
    'gpu-compute-architecture',
    'accelerator-comparison',
    'mcu-compute-constraints',
    'systolic-dataflow',
    'compute-cost-estimation',
    'chiplet-architecture',
  ],
  memory: [
    'vram-budgeting',
    'kv-cache-management',
    'memory-hierarchy-design',
    'activation-memory',
    'memory-mapped-inference',
    'tensor-arena-planning',
    'dma-data-movement',
    'memory-pressure-management',
  ],
  networking: [
    'collective-communication',
    'interconnect-topology',
    'network-bandwidth-bottlenecks',
    'rdma-transport',
    'load-balancing',
    'congestion-control',
  ],
  latency: [
    'latency-decomposition',
    'batching-strategies',
    'tail-latency',
    'real-time-deadlines',
    'profiling-bottleneck-analysis',
    'queueing-theory',
  ],
  parallelism: [
    'data-parallelism',
    'model-tensor-parallelism',
    'pipeline-parallelism',
    '3d-parallelism',
    'gradient-synchronization',
    'scheduling-resource-management',
  ],
  deployment: [
    'model-serving-infrastructure',
    'mlops-lifecycle',
    'ota-firmware-updates',
    'container-orchestration',
    'model-format-conversion',
    'ab-rollout-strategies',
    'compound-ai-systems',
    'disaggregated-serving',
    'software-portability',
    'model-adaptation-systems',
  ],
  data: [
    'data-pipeline-engineering',
    'feature-store-management',
    'data-quality-validation',
    'dataset-curation',
    'streaming-ingestion',
    'storage-format-selection',
    'data-efficiency-selection',
    'recommendation-systems-engineering',
  ],
  power: [
    'power-budgeting',
    'thermal-management',
    'energy-per-operation',
    'duty-cycling',
    'datacenter-efficiency',
    'sustainability-carbon-accounting',
  ],
  precision: ['quantization-fundamentals', 'mixed-precision-training', 'extreme-quantization'],
  reliability: [
    'fault-tolerance-checkpointing',
    'distribution-drift-detection',
    'graceful-degradation',
    'safety-certification',
    'adversarial-robustness',
    'monitoring-observability',
  ],
  optimization: [
    'pruning-sparsity',
    'knowledge-distillation',
    'kernel-fusion',
    'graph-compilation',
    'operator-scheduling',
    'flash-attention',
    'speculative-decoding',
    'communication-computation-overlap',
  ],
  architecture: [
    'transformer-systems-cost',
    'cnn-efficient-design',
    'attention-scaling',
    'mixture-of-experts',
    'model-size-estimation',
    'neural-architecture-search',
    'encoder-decoder-tradeoffs',
    'autograd-computational-graphs',
  ],
  'cross-cutting': [
    'federated-learning',
    'differential-privacy',
    'fairness-evaluation',
    'responsible-ai',
    'tco-cost-modeling',
  ],
} satisfies Record<string, readonly string[]>;
/** The areas, in the analyzer's order: the keys of the topic table. */
export type Area = keyof typeof TOPIC_TABLE;
export const TOPICS_BY_AREA: Readonly<Record<Area, readonly string[]>> = TOPIC_TABLE;
export const AREAS = Object.keys(TOPICS_BY_AREA) as readonly Area[];

export const TOPIC_AREA: ReadonlyMap<string, Area> = new Map(
  AREAS.flatMap((area) => TOPICS_BY_AREA[area].map((topic) => [topic, area] as const)),
);
export const TOPICS: readonly string[] = [...TOPIC_AREA.keys()];

/** Topics that the original generator knew by name but that are not among the 87. */
export const EXTRA_TOPIC_AREAS: Record<string, Area> = {
  'distributed-training-economics': 'cross-cutting',
};

/**
 * The area a topic belongs to: the taxonomy's, else that of a topic the original generator knew
 * beyond it (EXTRA_TOPIC_AREAS); undefined for a topic neither knows.
 */
export function topicArea(topic: string): Area | undefined {
  return TOPIC_AREA.get(topic) ?? EXTRA_TOPIC_AREAS[topic];
}

/** A cell's area from its topic: topicArea, and cross-cutting for a topic with none. */
export function areaOfTopic(topic: string): Area {
  return topicArea(topic) ?? 'cross-cutting';
}

/** The original's hard-coded topic blocklist per track (used by analyzer and generator). */
export const TRACK_TOPIC_BLOCKLIST: Record<Track, readonly string[]> = {
  cloud: [],
  edge: [],
  mobile: ['pipeline-parallelism', 'interconnect-topology'],
  tinyml: [
    'kv-cache-management',
    'pipeline-parallelism',
    'interconnect-topology',
    'data-pipeline-engineering',
    'distributed-training-economics',
  ],
  global: [],
};

/**
 * Visual-archetype topics, as an ordered list (the original used a Python set, whose order
 * changed with the hash seed). Kind: dot or matplotlib.
 */
export const VISUAL_ARCHETYPES: readonly { topic: string; kind: 'dot' | 'matplotlib'; archetype: string }[] = [
  { topic: 'collective-communication', kind: 'dot', archetype: 'ring/tree topology' },
  { topic: 'pipeline-parallelism', kind: 'matplotlib', archetype: 'bubble Gantt' },
  { topic: 'kv-cache-management', kind: 'matplotlib', archetype: 'page layout bar chart' },
  { topic: 'queueing-theory', kind: 'matplotlib', archetype: 'hockey-stick curve' },
  { topic: 'data-pipeline-engineering', kind: 'matplotlib', archetype: 'throughput stages' },
  { topic: 'memory-hierarchy-design', kind: 'matplotlib', archetype: 'tier bandwidth bars' },
  { topic: 'interconnect-topology', kind: 'dot', archetype: 'topology placement' },
  { topic: 'network-bandwidth-bottlenecks', kind: 'dot', archetype: 'fanout diagram' },
  { topic: 'duty-cycling', kind: 'matplotlib', archetype: 'sleep/wake timeline' },
  { topic: 'fault-tolerance-checkpointing', kind: 'matplotlib', archetype: 'RPO/RTO timeline' },
];
export const VISUAL_TOPICS: readonly string[] = VISUAL_ARCHETYPES.map((a) => a.topic);

/** Analyzer weights (missing keys → 1.0). */
export const TRACK_WEIGHTS: Record<Track, number> = { global: 1.5, tinyml: 1.3, mobile: 1.2, edge: 1.1, cloud: 0.7 };
export const ZONE_WEIGHTS: Record<Zone, number> = {
  realization: 1.5,
  specification: 1.3,
  mastery: 1.3,
  evaluation: 1.1,
  diagnosis: 1.0,
  design: 0.9,
  fluency: 0.9,
  optimization: 0.9,
  analyze: 0.8,
  implement: 0.8,
  recall: 0.6,
};
export const LEVEL_WEIGHTS: Record<Level, number> = { L1: 0.6, L2: 0.7, L3: 0.9, L4: 1.1, L5: 1.3, 'L6+': 1.4 };
export const AREA_WEIGHTS: Record<Area, number> = {
  compute: 1.0,
  memory: 1.0,
  networking: 1.0,
  latency: 1.0,
  parallelism: 1.0,
  deployment: 1.0,
  data: 1.1,
  power: 1.2,
  precision: 1.0,
  reliability: 1.2,
  optimization: 1.0,
  architecture: 1.0,
  'cross-cutting': 1.0,
};

/** The reference analyzer's fixed topic rotation for plan cells. */
export const REFERENCE_TOPIC_POOL: readonly string[] = [
  'queueing-theory',
  'memory-hierarchy-design',
  'compute-cost-estimation',
  'data-pipeline-engineering',
  'fault-tolerance-checkpointing',
  'communication-computation-overlap',
  'model-serving-infrastructure',
  'duty-cycling',
  'quantization-fundamentals',
];

/** The reference analyzer's `--include-areas` map (cross-cutting has none). */
export const REFERENCE_AREA_TO_TOPICS: Record<Area, readonly string[]> = {
  parallelism: ['pipeline-parallelism', 'collective-communication', 'kv-cache-management', 'interconnect-topology'],
  networking: ['network-bandwidth-bottlenecks', 'collective-communication', 'interconnect-topology'],
  memory: ['memory-hierarchy-design', 'kv-cache-management'],
  latency: ['queueing-theory'],
  compute: ['compute-cost-estimation'],
  data: ['data-pipeline-engineering'],
  power: ['duty-cycling'],
  precision: ['quantization-fundamentals'],
  reliability: ['fault-tolerance-checkpointing'],
  deployment: ['model-serving-infrastructure'],
  optimization: ['communication-computation-overlap'],
  architecture: ['kv-cache-management'],
  'cross-cutting': [],
};

/** Forced-area cells are added at these (level, zone) pairs. */
export const FORCED_AREA_CELLS: readonly { level: Level; zone: Zone }[] = [
  { level: 'L4', zone: 'diagnosis' },
  { level: 'L5', zone: 'specification' },
  { level: 'L6+', zone: 'mastery' },
];

export const isTrack = (v: unknown): v is Track => typeof v === 'string' && (TRACKS as readonly string[]).includes(v);
export const isLevel = (v: unknown): v is Level => typeof v === 'string' && (LEVELS as readonly string[]).includes(v);
export const isZone = (v: unknown): v is Zone => typeof v === 'string' && (ZONES as readonly string[]).includes(v);
export const isArea = (v: unknown): v is Area => typeof v === 'string' && (AREAS as readonly string[]).includes(v);
export const isTopic = (v: unknown): v is string => typeof v === 'string' && TOPIC_AREA.has(v);
