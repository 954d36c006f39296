/**
 * Question templates of the offline generator. Each is a small worked calculation (streaming,
 * memory footprint, compute time, queueing, latency budget, collectives, energy, cost,
 * quantization, checkpointing) with numbers drawn per variant and per hardware class. Every
 * printed result is computed from the printed operands, so checkArithmetic passes by
 * construction; the numbers, hardware, persona and framing make the text vary per cell.
 */
import type { Area, Level, Track, Zone } from '../../corpus/taxonomy.js';
import type { Rng } from '../../util/random.js';
import { formatQuantity } from '../../checks/arithmetic.js';
import type { HwClass, HwProfile } from '../../corpus/hardware.js';

export interface TemplateInput {
  rng: Rng;
  hw: HwProfile;
  cls: HwClass;
  track: Track;
  topic: string;
  /** "kv cache management" */
  topicLabel: string;
  zone: Zone;
  level: Level;
}

export interface SeriesPoint {
  label: string;
  value: number;
}

export interface QuestionParts {
  /** 2–6 words, without the topic (the generator adds it). */
  titleCore: string;
  /** One or two sentences of situation with numbers and the hardware. */
  situation: string;
  /** A noun phrase the zone's question frame wraps ("the time to stream the weights once"). */
  ask: string;
  solution: string;
  pitfall: string;
  rationale: string;
  consequence: string;
  assumptions: string[];
  calculations: string[];
  result: string;
  bound: string;
  conclusion: string;
  phase: 'training' | 'inference' | 'both';
  /** What a chart of this question shows (values in `unit`). */
  series: SeriesPoint[];
  unit: string;
}

export type TemplateKind =
  | 'stream'
  | 'footprint'
  | 'compute'
  | 'queue'
  | 'budget'
  | 'collective'
  | 'energy'
  | 'cost'
  | 'quant'
  | 'checkpoint';

/** Formats like napkin math and returns the number the text shows, for chaining. */
function q(x: number): [string, number] {
  const s = formatQuantity(x);
  return [s, Number(s.replaceAll(',', ''))];
}

const pct = (x: number): [string, number] => q(x * 100);

/** The chart of a question: one bar per label, in the order given (labels are words, never integer-like keys, so the object keeps it), all in `unit`. */
function chart(unit: string, bars: Record<string, number>): Pick<QuestionParts, 'series' | 'unit'> {
  return { series: Object.entries(bars).map(([label, value]) => ({ label, value })), unit };
}

type Template = (t: TemplateInput) => QuestionParts;

const stream: Template = ({ rng, hw, cls, topicLabel }) => {
  const mcu = cls === 'mcu';
  const size = mcu ? rng.pick([48, 96, 144, 192, 240, 320]) : cls === 'dc' ? rng.int(14, 150) : cls === 'edge' ? rng.int(2, 18) : rng.pick([1.5, 2, 2.5, 3, 3.5, 4]);
  const unit = mcu ? 'KB' : 'GB';
  const [t, tv] = q(mcu ? (size / hw.bw) * 1 : (size / hw.bw) * 1000);
  const budget = mcu ? rng.pick([1, 2, 5]) : rng.pick([20, 25, 40, 50, 80, 100]);
  const [rate] = q(1000 / tv);
  const [share, sv] = pct(tv / budget);
  const what = rng.pick(mcu ? ['model weights from flash-mapped memory', 'feature buffers', 'layer weights'] : ['model weights', 'weights and KV cache', 'embedding tables']);
  const over = sv > 100;
  return {
    titleCore: rng.pick([`Streaming ${size} ${unit} on ${hw.short}`, `${size} ${unit} Through ${hw.short} Memory`, `Bandwidth Wall at ${size} ${unit}`]),
    situation: `A ${topicLabel} workload on the ${hw.name} must read ${size} ${unit} of ${what} every pass, over memory that sustains ${hw.bw} ${hw.bwUnit}. The team's budget is ${budget} ms per pass.`,
    ask: rng.pick(['the time to stream the data once', 'the bandwidth-bound time per pass', 'the minimum time per pass set by memory bandwidth']),
    solution: `Reading ${size} ${unit} at ${hw.bw} ${hw.bwUnit} takes ${t} ms, which is ${share}% of the ${budget} ms budget. ${over ? 'Bandwidth alone breaks the budget, so the data must shrink (quantize, shard or cache) before compute tuning can help.' : 'The pass fits, but bandwidth sets its floor, so faster compute will not make it shorter.'}`,
    pitfall: rng.pick(['Estimating the pass time from peak compute alone.', 'Ignoring the bytes that must move on every pass.']),
    rationale: 'Vendor slides lead with FLOP/s or TOPS, and bandwidth looks plentiful in GB/s.',
    consequence: 'The service misses its latency target even after the kernels are optimized.',
    assumptions: [`Data read per pass: ${size} ${unit}.`, `Sustained bandwidth: ${hw.bw} ${hw.bwUnit} (${hw.name}).`, `Budget: ${budget} ms per pass.`],
    calculations: [
      `Stream time: ${size} ${unit} / ${hw.bw} ${hw.bwUnit} = ${t} ms.`,
      `Passes per second at best: 1000 ms / ${t} ms = ${rate}.`,
      `Share of budget: ${t} ms / ${budget} ms = ${share}%.`,
    ],
    result: `${t} ms per pass`,
    bound: 'Memory-Bandwidth-Bound',
    conclusion: over ? `The floor exceeds the ${budget} ms budget before any compute runs.` : `It leaves ${q(budget - tv)[0]} ms for everything else in the pass.`,
    phase: 'inference',
    ...chart('ms', { stream: tv, budget }),
  };
};

const footprint: Template = ({ rng, hw, cls, topicLabel }) => {
  if (cls === 'mcu') {
    const params = rng.pick([60, 120, 180, 250, 400]);
    const [w, wv] = q(params * 1);
    const arena = rng.pick([24, 48, 64, 96, 128]);
    const stack = rng.pick([16, 24, 32]);
    const [total, tv] = q(wv + arena + stack);
    const [free, fv] = q(hw.mem - tv);
    return {
      titleCore: rng.pick([`Fitting ${params}K Parameters in SRAM`, `${hw.short} SRAM Budget Check`, `Does the ${params}K Model Fit`]),
      situation: `A ${topicLabel} model with ${params}K INT8 parameters must run on a ${hw.name} with ${hw.mem} KB of SRAM. The tensor arena needs ${arena} KB and the RTOS stack ${stack} KB.`,
      ask: 'the SRAM left after weights, arena and stack',
      solution: `INT8 weights take ${w} KB, so the total is ${total} KB against ${hw.mem} KB. ${fv >= 0 ? `${free} KB stay free for buffers.` : `It overflows by ${q(-fv)[0]} KB; move weights to flash or shrink the arena.`}`,
      pitfall: 'Counting only the weights against SRAM.',
      rationale: 'Model size is the number printed by the converter, while arena and stack are set elsewhere.',
      consequence: 'The firmware hard-faults at the first inference when the arena allocation fails.',
      assumptions: [`Parameters: ${params}K at 1 byte (INT8).`, `Arena: ${arena} KB; stack: ${stack} KB.`, `SRAM: ${hw.mem} KB.`],
      calculations: [`Weights: ${params}K params × 1 byte = ${w} KB.`, `Total: ${w} KB + ${arena} KB + ${stack} KB = ${total} KB.`, `Free: ${hw.mem} KB - ${total} KB = ${free} KB.`],
      result: `${total} KB needed`,
      bound: 'Memory-Capacity-Bound',
      conclusion: fv >= 0 ? `It fits with ${free} KB to spare.` : 'It does not fit in SRAM as planned.',
      phase: 'inference',
      ...chart('KB', { weights: wv, arena, stack }),
    };
  }
  const params = cls === 'dc' ? rng.pick([7, 8, 13, 34, 70]) : rng.pick([1, 3, 7]);
  const bytes = cls === 'dc' ? 2 : rng.pick([1, 0.5]);
  const layers = cls === 'dc' ? rng.pick([32, 40, 48, 80]) : rng.pick([16, 24, 28, 32]);
  const heads = rng.pick([8, 8, 4]);
  const dim = 128;
  const seq = cls === 'dc' ? rng.pick([8192, 16384, 32768]) : rng.pick([2048, 4096]);
  const batch = cls === 'dc' ? rng.pick([4, 8, 16]) : 1;
  const [w, wv] = q(params * bytes);
  const perTok = 2 * layers * heads * dim * 2;
  const [pt] = q(perTok);
  const [kv, kvv] = q((perTok * seq * batch) / 1e9);
  const [total, tv] = q(wv + kvv);
  const [gap, gv] = q(hw.mem - tv);
  const fmt = bytes === 2 ? 'FP16' : bytes === 1 ? 'INT8' : 'INT4';
  return {
    titleCore: rng.pick([`${params}B Model at ${seq} Tokens`, `Memory Budget for ${params}B Weights`, `KV Cache Growth on ${hw.short}`]),
    situation: `You serve a ${params}B-parameter model in ${fmt} on a ${hw.name} with ${hw.mem} GB for ${topicLabel}. It has ${layers} layers with ${heads} KV heads of dimension ${dim}, and must hold ${batch} sequence${batch > 1 ? 's' : ''} of ${seq} tokens.`,
    ask: 'the total memory of weights plus KV cache',
    solution: `Weights need ${w} GB and the KV cache ${kv} GB, ${total} GB in all against ${hw.mem} GB. ${gv >= 0 ? `That leaves ${gap} GB for activations and fragmentation.` : `It is ${q(-gv)[0]} GB short, so shorten the context, quantize the cache or shard.`}`,
    pitfall: rng.pick(['Sizing memory from the weights alone.', 'Treating the KV cache as a rounding error.']),
    rationale: 'The parameter count is the headline number, while the cache grows with context and batch.',
    consequence: 'Long requests run out of memory in production although the model loads fine.',
    assumptions: [`Weights: ${params}B params at ${bytes} bytes (${fmt}).`, `KV cache: ${layers} layers, ${heads} KV heads, head dim ${dim}, FP16.`, `Context ${seq} tokens × batch ${batch}; capacity ${hw.mem} GB.`],
    calculations: [
      `Weights: ${params}B × ${bytes} bytes = ${w} GB.`,
      `KV per token: 2 × ${layers} × ${heads} × ${dim} × 2 bytes = ${pt} bytes.`,
      `KV cache: ${pt} bytes × ${seq} × ${batch} = ${kv} GB.`,
      `Total: ${w} GB + ${kv} GB = ${total} GB.`,
    ],
    result: `${total} GB required`,
    bound: 'Memory-Capacity-Bound',
    conclusion: gv >= 0 ? `It fits in ${hw.mem} GB with ${gap} GB spare.` : `It exceeds the ${hw.mem} GB device.`,
    phase: 'inference',
    ...chart('GB', { weights: wv, 'KV cache': kvv }),
  };
};

const compute: Template = ({ rng, hw, cls, topicLabel }) => {
  const util = rng.pick([30, 40, 50, 60]);
  if (cls === 'dc') {
    const params = rng.pick([7, 13, 34, 70]);
    const tokens = rng.pick([2048, 4096, 8192]);
    const [f, fv] = q((2 * params * tokens) / 1000);
    const [eff, ev] = q((hw.peak * util) / 100);
    const [t, tv] = q((fv / ev) * 1000);
    const slo = rng.pick([200, 300, 500, 800]);
    return {
      titleCore: rng.pick([`Prefill Time for ${params}B Model`, `${tokens}-Token Prompt on ${hw.short}`, `Compute Floor of Prefill`]),
      situation: `A ${topicLabel} service runs prefill for ${tokens}-token prompts through a ${params}B model on one ${hw.name} (${hw.peak} TFLOP/s FP16). Measured utilization is ${util}% and the time-to-first-token target is ${slo} ms.`,
      ask: 'the prefill time at the measured utilization',
      solution: `Prefill costs 2 × ${params}B × ${tokens} = ${f} TFLOP; at ${eff} TFLOP/s that is ${t} ms against a ${slo} ms target. ${tv > slo ? 'Compute alone misses the target, so split prefill across GPUs or cap prompt length.' : 'Compute fits, so queueing and decode scheduling decide the tail.'}`,
      pitfall: 'Dividing FLOPs by peak throughput.',
      rationale: 'Datasheets quote peak TFLOP/s and real kernels rarely exceed half of it.',
      consequence: 'Time-to-first-token is underestimated by about 2x and the SLO is missed.',
      assumptions: [`Model: ${params}B params; prompt ${tokens} tokens.`, `${hw.name}: ${hw.peak} TFLOP/s peak, ${util}% utilization.`, `Target: ${slo} ms.`],
      calculations: [`Prefill work: 2 × ${params}B × ${tokens} = ${f} TFLOP.`, `Effective rate: ${hw.peak} TFLOP/s × ${util}% = ${eff} TFLOP/s.`, `Prefill time: ${f} TFLOP / ${eff} TFLOP/s = ${t} ms.`],
      result: `${t} ms prefill`,
      bound: 'Compute-Bound',
      conclusion: tv > slo ? `It misses the ${slo} ms target.` : `It meets the ${slo} ms target with ${q(slo - tv)[0]} ms to spare.`,
      phase: 'inference',
      ...chart('ms', { prefill: tv, target: slo }),
    };
  }
  if (cls === 'mcu') {
    const macs = rng.pick([2, 4, 6, 8, 12]);
    const [eff, ev] = q((hw.peak * util) / 100);
    const [t, tv] = q((macs / ev) * 1000);
    const deadline = rng.pick([20, 50, 100]);
    return {
      titleCore: rng.pick([`${macs}M MACs on a ${hw.short}`, `Keyword Spotting Deadline on ${hw.short}`, `Inference Time Within ${deadline} ms`]),
      situation: `A ${topicLabel} model needs ${macs}M MACs per inference on a ${hw.name}, which peaks at ${hw.peak} MMAC/s with SIMD. Profiling shows ${util}% of peak, and each inference has a ${deadline} ms deadline.`,
      ask: 'the inference time at the profiled efficiency',
      solution: `At ${eff} MMAC/s, ${macs}M MACs take ${t} ms against a ${deadline} ms deadline. ${tv > deadline ? 'It misses; prune or move to a faster core.' : 'It fits, leaving time for feature extraction.'}`,
      pitfall: 'Assuming one MAC per cycle at the full clock.',
      rationale: 'The clock rate is the only number on the part\'s front page.',
      consequence: 'The device drops audio frames once feature extraction is added.',
      assumptions: [`Work: ${macs}M MACs per inference.`, `Peak ${hw.peak} MMAC/s; ${util}% achieved.`, `Deadline ${deadline} ms.`],
      calculations: [`Effective rate: ${hw.peak} MMAC/s × ${util}% = ${eff} MMAC/s.`, `Inference time: ${macs} MMAC / ${eff} MMAC/s = ${t} ms.`],
      result: `${t} ms per inference`,
      bound: 'Compute-Bound',
      conclusion: tv > deadline ? `It misses the ${deadline} ms deadline.` : `It meets the ${deadline} ms deadline.`,
      phase: 'inference',
      ...chart('ms', { inference: tv, deadline }),
    };
  }
  const gop = rng.pick([8, 12, 20, 35, 60]);
  const fps = rng.pick([15, 30, 60]);
  const [eff, ev] = q((hw.peak * util) / 100);
  const [t, tv] = q(gop / ev);
  const [budget, bv] = q(1000 / fps);
  return {
    titleCore: rng.pick([`${gop} GOP Model at ${fps} FPS`, `Frame Budget on the ${hw.short}`, `Can ${hw.short} Keep ${fps} FPS`]),
    situation: `A ${topicLabel} vision model costs ${gop} GOP per frame on a ${hw.name} rated at ${hw.peak} TOPS INT8. Real kernels reach ${util}% of peak and the camera runs at ${fps} FPS.`,
    ask: 'the per-frame compute time against the frame budget',
    solution: `At ${eff} effective TOPS a frame takes ${t} ms, within a ${budget} ms frame budget ${tv <= bv ? 'with room for pre- and post-processing' : 'only if the model shrinks'}. The rated TOPS figure assumes sparsity and perfect utilization, which real graphs do not reach.`,
    pitfall: 'Using the rated TOPS as the achieved rate.',
    rationale: 'Rated TOPS assume INT8 sparsity and full occupancy.',
    consequence: 'The pipeline drops frames in the field although the spreadsheet said it fits.',
    assumptions: [`Work: ${gop} GOP per frame.`, `${hw.name}: ${hw.peak} TOPS, ${util}% achieved.`, `Camera: ${fps} FPS.`],
    calculations: [`Effective rate: ${hw.peak} TOPS × ${util}% = ${eff} TOPS.`, `Compute time: ${gop} GOP / ${eff} TOPS = ${t} ms.`, `Frame budget: 1000 ms / ${fps} = ${budget} ms.`],
    result: `${t} ms per frame`,
    bound: 'Compute-Bound',
    conclusion: tv <= bv ? `It fits the ${budget} ms frame.` : `It overruns the ${budget} ms frame.`,
    phase: 'inference',
    ...chart('ms', { compute: tv, 'frame budget': bv }),
  };
};

const queue: Template = ({ rng, hw, cls, topicLabel }) => {
  const service = cls === 'mcu' ? rng.pick([5, 8, 12, 20]) : cls === 'dc' ? rng.pick([20, 25, 40, 50, 80]) : rng.pick([10, 15, 20, 30]);
  const target = rng.pick([0.5, 0.6, 0.7, 0.8, 0.85, 0.9]);
  const lambda = Math.max(1, Math.round((target * 1000) / service));
  const [rho, rv] = q((lambda * service) / 1000);
  const [wait, wv] = q((service * rv) / (1 - rv));
  const [resp, respv] = q(service + wv);
  const slo = rng.pick([2, 3, 4]) * service;
  return {
    titleCore: rng.pick([`Queueing at ${Math.round(rv * 100)}% Utilization`, `Why P50 Latency Tripled`, `Arrival Rate ${lambda} per Second`]),
    situation: `A ${topicLabel} endpoint on a ${hw.name} serves one request at a time in ${service} ms. Traffic arrives at ${lambda} requests/s, roughly Poisson, and the latency objective is ${slo} ms.`,
    ask: 'the mean response time under M/M/1 queueing',
    solution: `Utilization is ${rho}, so the mean wait is ${service} × ${rho} / (1 - ${rho}) = ${wait} ms and the response ${resp} ms. ${respv > slo ? 'Queueing, not the model, breaks the objective; add a replica or batch.' : 'The objective holds, but the curve is steep above this load.'}`,
    pitfall: 'Reporting the service time as the latency.',
    rationale: 'Benchmarks run one request at a time, with no queue.',
    consequence: 'Latency explodes at peak traffic although each request is fast.',
    assumptions: [`Service time: ${service} ms.`, `Arrivals: ${lambda} requests/s (Poisson).`, `Objective: ${slo} ms.`],
    calculations: [`Utilization: ${lambda} req/s × ${service} ms = ${rho}.`, `Mean wait: ${service} ms × ${rho} / (1 - ${rho}) = ${wait} ms.`, `Response: ${service} ms + ${wait} ms = ${resp} ms.`],
    result: `${resp} ms mean response`,
    bound: 'Queueing-Bound',
    conclusion: respv > slo ? `It breaks the ${slo} ms objective.` : `It meets the ${slo} ms objective.`,
    phase: 'inference',
    series: [0.3, 0.5, 0.7, rv, 0.95].map((r) => ({ label: `ρ=${r}`, value: Number(q((service * r) / (1 - r) + service)[1]) })),
    unit: 'ms',
  };
};

const budgetT: Template = ({ rng, hw, cls, topicLabel }) => {
  const scale = cls === 'mcu' ? 1 : cls === 'dc' ? 10 : 3;
  const stages = rng.pick([
    ['capture', 'pre-processing', 'inference', 'post-processing'],
    ['network hop', 'queue', 'model', 'serialization'],
    ['decode', 'resize', 'model', 'tracking'],
  ]);
  const vals = stages.map(() => Number(q(rng.int(2, 12) * scale * (0.5 + rng.next()))[1]));
  const [total, tv] = q(vals.reduce((a, b) => a + b, 0));
  const budget = Number(q(tv * rng.pick([0.8, 0.9, 1.1, 1.3, 1.5]))[1]);
  const [slack, sv] = q(budget - tv);
  const worst = stages[vals.indexOf(Math.max(...vals))]!;
  return {
    titleCore: rng.pick([`A ${budget} ms End-to-End Budget`, `Where the ${tv} ms Goes`, `Latency Budget Across ${stages.length} Stages`]),
    situation: `A ${topicLabel} pipeline on a ${hw.name} runs ${stages.map((s, i) => `${s} (${vals[i]} ms)`).join(', ')}. The end-to-end budget is ${budget} ms.`,
    ask: 'the slack left in the end-to-end budget',
    solution: `The stages add to ${total} ms against ${budget} ms, a slack of ${slack} ms. ${sv < 0 ? `The largest stage, ${worst}, is where to cut first.` : 'The budget holds, but jitter in the largest stage could consume the slack.'}`,
    pitfall: 'Budgeting only the model inference time.',
    rationale: 'The model is what gets benchmarked; the glue stages are invisible in isolation.',
    consequence: 'The system misses its end-to-end deadline while every team meets its own number.',
    assumptions: [...stages.map((s, i) => `${s}: ${vals[i]} ms.`), `Budget: ${budget} ms.`],
    calculations: [`Total: ${vals.map((v) => `${v} ms`).join(' + ')} = ${total} ms.`, `Slack: ${budget} ms - ${total} ms = ${slack} ms.`],
    result: `${slack} ms slack`,
    bound: 'Latency-Bound',
    conclusion: sv < 0 ? `The pipeline overruns by ${q(-sv)[0]} ms.` : `The pipeline fits with ${slack} ms to spare.`,
    phase: 'inference',
    series: stages.map((s, i) => ({ label: s, value: vals[i]! })),
    unit: 'ms',
  };
};

const collective: Template = ({ rng, hw, cls, topicLabel }) => {
  if (cls === 'mobile' || cls === 'mcu') {
    const mcu = cls === 'mcu';
    const size = mcu ? rng.pick([16, 32, 64, 120]) : rng.pick([5, 10, 20, 40]);
    const unit = mcu ? 'KB' : 'MB';
    const rate = mcu ? rng.pick([20, 40, 60]) : rng.pick([2, 4, 8, 16]);
    const [bits, bv] = q(size * 8);
    const [time, tv] = q(bv / rate);
    const windowS = mcu ? rng.pick([5, 10, 20]) : rng.pick([10, 20, 30, 60]);
    const rateUnit = mcu ? 'kbps' : 'Mbps';
    const bitUnit = mcu ? 'kb' : 'Mb';
    return {
      titleCore: rng.pick([`Pushing ${size} ${unit} Over ${rate} ${rateUnit}`, `Upload Window of ${windowS} Seconds`, `Bits Versus Bytes on the Uplink`]),
      situation: `A ${hw.name} device must upload a ${size} ${unit} ${topicLabel} update over a link averaging ${rate} ${rateUnit}. The OS allows background transfers of at most ${windowS} seconds.`,
      ask: 'the transfer time against the background window',
      solution: `${size} ${unit} is ${bits} ${bitUnit}, which takes ${time} seconds at ${rate} ${rateUnit}. ${tv > windowS ? 'It overruns the window, so compress the update or split it across sessions.' : 'It fits within the window with margin for retries.'}`,
      pitfall: 'Dividing megabytes by megabits per second.',
      rationale: 'Payloads are quoted in bytes and links in bits.',
      consequence: 'Updates time out in the background and never reach the server.',
      assumptions: [`Payload: ${size} ${unit}.`, `Link: ${rate} ${rateUnit}.`, `Window: ${windowS} seconds.`],
      calculations: [`Payload in bits: ${size} ${unit} × 8 = ${bits} ${bitUnit}.`, `Transfer: ${bits} ${bitUnit} / ${rate} ${rateUnit} = ${time} seconds.`],
      result: `${time} seconds`,
      bound: 'Network-Bound',
      conclusion: tv > windowS ? `It exceeds the ${windowS}-second window.` : `It fits the ${windowS}-second window.`,
      phase: 'training',
      ...chart('s', { transfer: tv, window: windowS }),
    };
  }
  const ranks = cls === 'dc' ? rng.pick([8, 16, 32, 64]) : rng.pick([2, 4]);
  const params = cls === 'dc' ? rng.pick([1.3, 3, 7, 13]) : rng.pick([0.5, 1, 2]);
  const [grad, gv] = q(params * 2);
  const [vol, vv] = q(((2 * (ranks - 1)) / ranks) * gv);
  const [time, tv] = q((vv / hw.linkBw) * 1000);
  const step = Number(q(tv * rng.pick([1.5, 2, 3, 5]))[1]);
  return {
    titleCore: rng.pick([`Ring AllReduce Across ${ranks} Ranks`, `Gradient Sync for ${params}B Parameters`, `${hw.link} Time per Step`]),
    situation: `Data-parallel ${topicLabel} training of a ${params}B-parameter model runs on ${ranks} ${hw.name} ranks linked by ${hw.link} at ${hw.linkBw} GB/s. Gradients are FP16 and the compute part of a step takes ${step} ms.`,
    ask: 'the bandwidth time of one ring AllReduce of the gradients',
    solution: `Each rank moves 2(N-1)/N × ${grad} GB = ${vol} GB, which takes ${time} ms at ${hw.linkBw} GB/s. Against ${step} ms of compute, ${tv > step * 0.5 ? 'communication must overlap with backward or the step stretches visibly' : 'overlap hides most of it'}.`,
    pitfall: 'Counting the payload once per step.',
    rationale: 'A ring AllReduce is a reduce-scatter plus an all-gather, each moving the payload.',
    consequence: 'Scaling efficiency falls far below the plan as ranks are added.',
    assumptions: [`Payload: ${params}B params × 2 bytes (FP16).`, `Ranks: ${ranks}; link ${hw.linkBw} GB/s.`, `Compute per step: ${step} ms.`],
    calculations: [`Gradients: ${params}B × 2 bytes = ${grad} GB.`, `Ring traffic: 2 × (${ranks} - 1) / ${ranks} × ${grad} GB = ${vol} GB.`, `AllReduce time: ${vol} GB / ${hw.linkBw} GB/s = ${time} ms.`],
    result: `${time} ms per AllReduce`,
    bound: 'Bandwidth-Bound',
    conclusion: `Communication is ${pct(tv / step)[0]}% of the compute time.`,
    phase: 'training',
    ...chart('ms', { compute: step, allreduce: tv }),
  };
};

const energy: Template = ({ rng, hw, cls, topicLabel }) => {
  if (cls === 'mcu' || cls === 'mobile') {
    const activeMw = cls === 'mcu' ? Number(q(hw.watts * 1000)[1]) : rng.pick([800, 1200, 1500]);
    const activeMs = rng.pick([10, 20, 40, 60]);
    const period = rng.pick([1, 2, 5]);
    const sleepUw = cls === 'mcu' ? rng.pick([5, 10, 20]) : rng.pick([2000, 5000]);
    const [ea, eav] = q(activeMw * activeMs);
    const [es, esv] = q(sleepUw * period);
    const [avg, av] = q((eav + esv) / period);
    const cap = cls === 'mcu' ? rng.pick([220, 620, 1000]) : rng.pick([12000, 15000]);
    const [hours, hv] = q((cap * 1000) / av);
    const [days] = q(hv / 24);
    return {
      titleCore: rng.pick([`Battery Life at ${activeMs} ms Duty`, `Sleep Versus Active Energy Budget`, `Waking Every ${period} Seconds on ${hw.short}`]),
      situation: `A ${topicLabel} feature on a ${hw.name} wakes every ${period} s, runs for ${activeMs} ms at ${activeMw} mW and sleeps at ${sleepUw} μW. It runs from a ${cap} mWh battery.`,
      ask: 'the average power and battery life',
      solution: `Each period spends ${ea} μJ active and ${es} μJ asleep, an average of ${avg} μW. The ${cap} mWh battery lasts about ${hours} hours (${days} days); ${eav > esv ? 'the active burst dominates, so shorten or batch it' : 'sleep current dominates, so cut leakage first'}.`,
      pitfall: 'Computing battery life from the active power alone.',
      rationale: 'Datasheets headline the run current, and sleep current looks negligible.',
      consequence: 'Devices die months early in the field.',
      assumptions: [`Active: ${activeMw} mW for ${activeMs} ms per ${period} s period.`, `Sleep: ${sleepUw} μW.`, `Battery: ${cap} mWh.`],
      calculations: [
        `Active energy: ${activeMw} mW × ${activeMs} ms = ${ea} μJ.`,
        `Sleep energy: ${sleepUw} μW × ${period} s = ${es} μJ.`,
        `Average power: (${ea} μJ + ${es} μJ) / ${period} s = ${avg} μW.`,
        `Battery life: ${cap} mWh / ${avg} μW = ${hours} hours.`,
      ],
      result: `${hours} hours`,
      bound: 'Energy-Bound',
      conclusion: `That is about ${days} days per charge.`,
      phase: 'inference',
      ...chart('μJ', { active: eav, sleep: esv }),
    };
  }
  const count = cls === 'dc' ? 8 : rng.pick([4, 10, 25]);
  const [kw, kv] = q((count * hw.watts) / 1000);
  const hours = rng.pick([24, 168, 720]);
  const [kwh, khv] = q(kv * hours);
  const price = rng.pick([0.08, 0.12, 0.15]);
  const [cost, cv] = q(khv * price);
  return {
    titleCore: rng.pick([`Energy Bill of ${count} ${hw.short} Devices`, `${hours} Hours of ${hw.short} Power`, `Kilowatt-Hours Behind the Workload`]),
    situation: `A ${topicLabel} deployment runs ${count} ${hw.name} units at about ${hw.watts} W each for ${hours} hours. Electricity costs $${price} per kWh.`,
    ask: 'the energy and electricity cost over the period',
    solution: `The units draw ${kw} kW, which over ${hours} h is ${kwh} kWh, or about $${cost}. ${cv > 500 ? 'At this scale, utilization improvements pay back quickly.' : 'The bill is small next to hardware cost, so optimize for throughput first.'}`,
    pitfall: 'Forgetting that energy is power times time.',
    rationale: 'Teams quote power in watts and never multiply by hours of use.',
    consequence: 'The operating budget is underestimated by orders of magnitude.',
    assumptions: [`${count} units × ${hw.watts} W.`, `Duration: ${hours} h.`, `Price: $${price}/kWh.`],
    calculations: [`Power: ${count} × ${hw.watts} W = ${kw} kW.`, `Energy: ${kw} kW × ${hours} h = ${kwh} kWh.`, `Cost: ${kwh} kWh × $${price} = $${cost}.`],
    result: `$${cost} for ${kwh} kWh`,
    bound: 'Power-Bound',
    conclusion: `Energy cost scales linearly with units and hours.`,
    phase: 'both',
    ...chart('kW / kWh', { 'power (kW)': kv, 'energy (kWh)': khv }),
  };
};

const cost: Template = ({ rng, hw, cls, topicLabel }) => {
  if (cls === 'dc') {
    const gpus = rng.pick([8, 16, 64, 256]);
    const hours = rng.pick([12, 24, 72, 240]);
    const rate = rng.pick([2, 2.5, 3.5, 4]);
    const [gh, ghv] = q(gpus * hours);
    const [usd] = q(ghv * rate);
    return {
      titleCore: rng.pick([`${gpus} GPUs for ${hours} Hours`, `Cost of a ${ghv} GPU-Hour Job`, `Budgeting ${hw.short} Time`]),
      situation: `A ${topicLabel} job needs ${gpus} ${hw.name} GPUs for ${hours} hours. The cloud price is $${rate} per GPU-hour.`,
      ask: 'the cost of the job',
      solution: `${gpus} GPUs × ${hours} h is ${gh} GPU-hours, or $${usd} at $${rate}. Reserved capacity or better utilization changes this more than any code tweak.`,
      pitfall: 'Pricing the job per node-hour instead of per GPU-hour.',
      rationale: 'Instances bundle several GPUs but price sheets quote per GPU.',
      consequence: 'The budget request is off by the number of GPUs per node.',
      assumptions: [`${gpus} GPUs for ${hours} h.`, `$${rate} per GPU-hour.`],
      calculations: [`GPU-hours: ${gpus} × ${hours} h = ${gh} GPU-hours.`, `Cost: ${gh} GPU-hours × $${rate} = $${usd}.`],
      result: `$${usd}`,
      bound: 'Cost-Bound',
      conclusion: 'Cost scales with GPU count times wall-clock hours.',
      phase: 'training',
      ...chart('GPU-hours', { 'GPU-hours': ghv }),
    };
  }
  const devices = rng.pick([5000, 20000, 100000]);
  const size = cls === 'mcu' ? rng.pick([0.05, 0.1, 0.2]) : rng.pick([2, 5, 10]);
  const [gb, gbv] = q((devices * size) / 1000);
  const price = rng.pick([0.05, 0.09]);
  const [usd] = q(gbv * price);
  return {
    titleCore: rng.pick([`Shipping Updates to ${devices} Devices`, `Fleet Egress for One Rollout`, `What One Rollout Costs`]),
    situation: `A ${topicLabel} rollout pushes a ${size} MB package to ${devices} ${hw.name} devices. Egress costs $${price} per GB.`,
    ask: 'the egress volume and cost of one rollout',
    solution: `${devices} devices × ${size} MB is ${gb} GB, about $${usd} per rollout. Delta updates shrink both terms.`,
    pitfall: 'Costing one device and forgetting the fleet multiplier.',
    rationale: 'A single package looks tiny.',
    consequence: 'Frequent rollouts blow through the bandwidth budget.',
    assumptions: [`${devices} devices; ${size} MB each.`, `$${price} per GB.`],
    calculations: [`Volume: ${devices} × ${size} MB = ${gb} GB.`, `Cost: ${gb} GB × $${price} = $${usd}.`],
    result: `$${usd} per rollout`,
    bound: 'Cost-Bound',
    conclusion: 'Delta or staged updates cut this linearly.',
    phase: 'inference',
    ...chart('GB', { 'egress GB': gbv }),
  };
};

const quant: Template = ({ rng, hw, cls, topicLabel }) => {
  if (cls === 'mcu') {
    const k = rng.pick([100, 200, 300, 500]);
    const [a, av] = q(k * 4);
    const [b, bv] = q(k * 1);
    const [ratio] = q(av / bv);
    const flash = rng.pick([512, 1024]);
    return {
      titleCore: rng.pick([`INT8 Weights for ${k}K Parameters`, `From FP32 to INT8 on ${hw.short}`, `Flash Budget After Quantization`]),
      situation: `A ${topicLabel} model with ${k}K parameters was trained in FP32 and must ship on a ${hw.name} with ${flash} KB of flash.`,
      ask: 'the weight size before and after INT8 quantization',
      solution: `FP32 weights take ${a} KB and INT8 ${b} KB, a ${ratio}x reduction. ${av > flash ? 'Only the INT8 version fits the flash.' : 'Both fit, but INT8 also speeds up inference with SIMD.'}`,
      pitfall: 'Quantizing weights but leaving activations in FP32.',
      rationale: 'Converters default to weight-only quantization.',
      consequence: 'The arena still overflows SRAM and inference stays slow.',
      assumptions: [`${k}K parameters.`, `FP32 = 4 bytes, INT8 = 1 byte.`, `Flash: ${flash} KB.`],
      calculations: [`FP32: ${k}K × 4 bytes = ${a} KB.`, `INT8: ${k}K × 1 byte = ${b} KB.`, `Reduction: ${a} KB / ${b} KB = ${ratio}x.`],
      result: `${b} KB in INT8`,
      bound: 'Memory-Capacity-Bound',
      conclusion: `Quantization cuts weight storage by ${ratio}x.`,
      phase: 'inference',
      ...chart('KB', { FP32: av, INT8: bv }),
    };
  }
  const params = cls === 'dc' ? rng.pick([8, 13, 34, 70]) : rng.pick([1, 3, 7]);
  const [a, av] = q(params * 2);
  const [b, bv] = q(params * 0.5);
  const [save] = q(av - bv);
  const [t] = q((bv / hw.bw) * 1000);
  return {
    titleCore: rng.pick([`INT4 Weights for a ${params}B Model`, `Quantizing ${params}B Parameters on ${hw.short}`, `Decode Speed After 4-Bit Quantization`]),
    situation: `A ${params}B-parameter ${topicLabel} model runs decode on a ${hw.name} with ${hw.bw} GB/s of memory bandwidth. The team weighs FP16 against INT4 weights.`,
    ask: 'the weight size in both formats and the bandwidth-bound decode time with INT4',
    solution: `FP16 needs ${a} GB and INT4 ${b} GB, saving ${save} GB. Decode reads all weights per token, so INT4 sets a floor of ${t} ms per token; accuracy must be checked on the target task.`,
    pitfall: 'Expecting quantization to speed up compute-bound prefill as much as decode.',
    rationale: 'Decode is bandwidth-bound, prefill is compute-bound.',
    consequence: 'Prefill latency stays flat and the rollout disappoints.',
    assumptions: [`${params}B params.`, `FP16 = 2 bytes, INT4 = 0.5 bytes.`, `Bandwidth: ${hw.bw} GB/s.`],
    calculations: [`FP16: ${params}B × 2 bytes = ${a} GB.`, `INT4: ${params}B × 0.5 bytes = ${b} GB.`, `Saving: ${a} GB - ${b} GB = ${save} GB.`, `Decode floor: ${b} GB / ${hw.bw} GB/s = ${t} ms.`],
    result: `${t} ms per token with INT4`,
    bound: 'Memory-Bandwidth-Bound',
    conclusion: `INT4 cuts bytes per token by 4x against FP16.`,
    phase: 'inference',
    ...chart('GB', { FP16: av, INT4: bv }),
  };
};

const checkpoint: Template = ({ rng, hw, cls, topicLabel }) => {
  if (cls === 'dc') {
    const params = rng.pick([7, 13, 34, 70]);
    const [size, sv] = q(params * 16);
    const bw = rng.pick([5, 10, 20, 40]);
    const [t, tv] = q(sv / bw);
    const every = rng.pick([10, 15, 30, 60]);
    const [per, pv] = q(60 / every);
    const [over, ov] = q(tv * pv);
    const [share] = pct(ov / 3600);
    return {
      titleCore: rng.pick([`Checkpointing ${params}B Every ${every} Minutes`, `Checkpoint Stall at ${bw} GB/s`, `What Each Checkpoint Costs`]),
      situation: `Training a ${params}B-parameter model on ${hw.name} GPUs for ${topicLabel} saves weights and Adam state (16 bytes per parameter) every ${every} minutes. Storage sustains ${bw} GB/s and writes block training.`,
      ask: 'the checkpoint write time and its hourly overhead',
      solution: `A checkpoint is ${size} GB and takes ${t} s at ${bw} GB/s; ${per} per hour cost ${over} s, ${share}% of training time. Asynchronous checkpointing to host memory hides most of it.`,
      pitfall: 'Saving only the weights and calling it a checkpoint.',
      rationale: 'The model file is what inference uses, so it feels complete.',
      consequence: 'A restart loses optimizer state and the loss curve jumps.',
      assumptions: [`${params}B params × 16 bytes (weights, gradients, Adam).`, `Storage: ${bw} GB/s.`, `Interval: ${every} min.`],
      calculations: [`Checkpoint: ${params}B × 16 bytes = ${size} GB.`, `Write time: ${size} GB / ${bw} GB/s = ${t} s.`, `Per hour: ${t} s × ${per} = ${over} s.`, `Overhead: ${over} s / 3600 s = ${share}%.`],
      result: `${t} s per checkpoint`,
      bound: 'I/O-Bound',
      conclusion: `Synchronous saves cost ${share}% of each hour.`,
      phase: 'training',
      ...chart('s', { write: tv, 'per hour': ov }),
    };
  }
  const mcu = cls === 'mcu';
  const size = mcu ? rng.pick([8, 16, 32]) : rng.pick([50, 120, 300]);
  const unit = mcu ? 'KB' : 'MB';
  const rate = mcu ? rng.pick([40, 80, 160]) : rng.pick([200, 400, 800]);
  const [t, tv] = q((size / rate) * 1000);
  const hold = mcu ? rng.pick([50, 100, 200]) : rng.pick([300, 500, 1000]);
  return {
    titleCore: rng.pick([`Saving ${size} ${unit} of State Before Power Loss`, `Brown-Out Window on the ${hw.short}`, `State Snapshot Within ${hold} ms`]),
    situation: `A ${topicLabel} app on a ${hw.name} must persist ${size} ${unit} of state when power drops. Storage writes at ${rate} ${unit}/s and the supply holds up for ${hold} ms.`,
    ask: 'the snapshot write time against the hold-up window',
    solution: `Writing ${size} ${unit} at ${rate} ${unit}/s takes ${t} ms against ${hold} ms of hold-up. ${tv > hold ? 'It cannot finish; checkpoint incrementally while power is good.' : 'It completes with margin if started at once.'}`,
    pitfall: 'Starting the save only when power fails.',
    rationale: 'Saving late minimizes flash wear.',
    consequence: 'Corrupted state after every brown-out.',
    assumptions: [`State: ${size} ${unit}.`, `Write rate: ${rate} ${unit}/s.`, `Hold-up: ${hold} ms.`],
    calculations: [`Write time: ${size} ${unit} / ${rate} ${unit}/s = ${t} ms.`],
    result: `${t} ms to persist`,
    bound: 'I/O-Bound',
    conclusion: tv > hold ? `It misses the ${hold} ms window.` : `It fits the ${hold} ms window.`,
    phase: 'inference',
    ...chart('ms', { write: tv, 'hold-up': hold }),
  };
};

export const TEMPLATES: Record<TemplateKind, Template> = {
  stream,
  footprint,
  compute,
  queue,
  budget: budgetT,
  collective,
  energy,
  cost,
  quant,
  checkpoint,
};

/** Template families per area (first is the most natural). */
export const AREA_TEMPLATES: Record<Area, readonly TemplateKind[]> = {
  compute: ['compute', 'cost', 'stream'],
  memory: ['footprint', 'stream', 'quant'],
  networking: ['collective', 'stream', 'budget'],
  latency: ['queue', 'budget', 'compute'],
  parallelism: ['collective', 'compute', 'checkpoint'],
  deployment: ['budget', 'cost', 'footprint', 'quant'],
  data: ['stream', 'budget', 'cost'],
  power: ['energy', 'compute'],
  precision: ['quant', 'footprint'],
  reliability: ['checkpoint', 'budget', 'queue'],
  optimization: ['quant', 'stream', 'compute'],
  architecture: ['footprint', 'compute', 'stream'],
  'cross-cutting': ['cost', 'energy', 'collective'],
};
