/** Server-rendered pages. The only script is inline and the only styles are inline: works offline. */
import { esc, heatmaps, lineChart, verdictBars, VERDICT_COLORS } from './charts.js';
import { isTerminal, type CoverageGrid, type RunDetail, type RunSummary, fingerprint } from './data.js';
import type { Role } from './auth.js';

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f2a37;color:#fff;padding:.7rem 1.5rem;display:flex;gap:1.5rem;align-items:center}
header a{color:#cfe3ff;text-decoration:none}header .brand{font-weight:bold;color:#fff}
main{padding:1rem 1.5rem}
table{border-collapse:collapse;background:#fff;font-size:.88rem}
th,td{border:1px solid #dde1e6;padding:.3rem .55rem;text-align:left}th{background:#eef1f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.status{padding:.1rem .45rem;border-radius:.6rem;font-size:.8rem;color:#fff;background:#777}
.status-running{background:#2471a3}.status-paused{background:#b9770e}.status-stopping{background:#b9770e}
.status-completed{background:#1e8449}.status-stopped{background:#566573}.status-failed{background:#c0392b}
.cards{display:flex;gap:.8rem;flex-wrap:wrap;margin:.6rem 0}
.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.5rem .8rem;min-width:8rem}
.card b{display:block;font-size:1.15rem}
.charts{display:flex;flex-wrap:wrap;gap:.8rem}.chart,.heatmap{background:#fff;border:1px solid #dde1e6;border-radius:6px}
.heatmaps{display:flex;flex-wrap:wrap;gap:.8rem}
form.inline{display:inline}button{cursor:pointer;padding:.25rem .7rem}
.muted{color:#777}.actions{margin:.6rem 0;display:flex;gap:.5rem}
`;

export function layout(title: string, body: string, opts: { role: Role; script?: string }): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head><body>
<header><a class="brand" href="/">vault-loop</a><a href="/">runs</a><a href="/queues">queues (Bull Board)</a><a href="/metrics">metrics</a><span class="muted" style="margin-left:auto">${esc(opts.role)}</span></header>
<main>${body}</main>${opts.script ? `<script>${opts.script}</script>` : ''}</body></html>`;
}

export function fmtDuration(ms: number | null): string {
  if (ms === null) return '-';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

const status = (s: string): string => `<span class="status status-${esc(s)}">${esc(s)}</span>`;
const money = (n: number): string => `$${n.toFixed(4)}`;

export function overviewPage(runs: RunSummary[], role: Role, prefix: string): string {
  const rows = runs
    .map(
      (r) => `<tr data-run="${esc(r.runId)}"><td><a href="/runs/${encodeURIComponent(r.runId)}">${esc(r.runId)}</a></td><td>${status(r.status)}</td><td class="num">${r.iter}</td>` +
        `<td class="num">${r.callsUsed} / ${r.maxCalls}</td><td class="num">${r.tokensIn} / ${r.tokensOut}</td><td class="num">${money(r.costUsd)}</td>` +
        `<td>${esc(r.stopReason ?? '-')}</td><td>${esc(r.startedAt.slice(0, 19).replace('T', ' '))}</td><td class="num">${fmtDuration(r.durationMs)}</td></tr>`,
    )
    .join('');
  const live = runs.some((r) => !isTerminal(r.status));
  const body =
    `<h1>Runs</h1><p class="muted">Redis prefix <code>${esc(prefix)}</code>${live ? ' · a run is going: this page refreshes every 3 s' : ''}</p>` +
    (runs.length === 0
      ? '<p>No runs yet. Start one with <code>vault-loop run --vault DIR</code>.</p>'
      : `<table id="runs"><thead><tr><th>run</th><th>status</th><th>iteration</th><th>calls used / budget</th><th>tokens in / out</th><th>cost</th><th>stop reason</th><th>started (UTC)</th><th>duration</th></tr></thead><tbody>${rows}</tbody></table>`);
  return layout('vault-loop runs', body, { role, ...(live ? { script: 'setTimeout(()=>location.reload(),3000)' } : {}) });
}

/** The part of the run page that the live view replaces. */
export function runBody(d: RunDetail, grid: CoverageGrid, role: Role): string {
  const r = d.run;
  const id = encodeURIComponent(r.runId);
  const its = d.iterations;
  const xs = its.map((i) => i.iter);
  const canAct = role === 'operator';
  const ended = isTerminal(r.status);
  const button = (action: string, label: string, enabled: boolean) =>
    `<form class="inline" method="post" action="/api/runs/${id}/${action}"><button type="submit" id="btn-${action}" ${enabled ? '' : 'disabled'}>${label}</button></form>`;

  let html = `<h1>Run ${esc(r.runId)} ${status(r.status)}</h1>`;
  html += `<p class="muted">phase ${esc(r.phase || '-')} · generator ${esc(r.generator.provider)}/${esc(r.generator.model)} · judge ${esc(r.judge.provider)}/${esc(r.judge.model)} · vault <code>${esc(r.vault)}</code></p>`;
  html += '<div class="cards">';
  const card = (label: string, value: string, cid: string) => `<div class="card" id="${cid}">${label}<b>${value}</b></div>`;
  html += card('iteration', String(r.iter), 'card-iter');
  html += card('calls used / budget', `${r.callsUsed} / ${r.maxCalls}`, 'card-calls');
  html += card('in flight', String(r.callsReserved), 'card-reserved');
  html += card('tokens in / out', `${r.tokensIn} / ${r.tokensOut}`, 'card-tokens');
  html += card('cost', money(r.costUsd), 'card-cost');
  html += card('PASS / NEEDS_FIX / DROP', `${d.verdicts.PASS} / ${d.verdicts.NEEDS_FIX} / ${d.verdicts.DROP}`, 'card-verdicts');
  html += card('cost per accepted question', d.perPass.cost_per_pass_usd === null ? 'no PASS yet' : `${money(d.perPass.cost_per_pass_usd)} · ${d.perPass.calls_per_pass} calls`, 'card-per-pass');
  html += card('calls saved by the pre-judge', String(d.prejudgeCallsSaved), 'card-prejudge-saved');
  html += card('unjudged', String(d.unjudged), 'card-unjudged');
  html += card('duration', fmtDuration(r.durationMs), 'card-duration');
  html += card('stop reason', esc(r.stopReason ?? '-'), 'card-stop');
  if (r.tokensCached) html += card('cached input tokens', String(r.tokensCached), 'card-cached');
  html += '</div>';
  if (d.batches.inFlight.length > 0 || d.batches.ended > 0) {
    html += `<h2>Provider batches</h2><p class="muted" id="batches-ended">${d.batches.ended} ended</p>`;
    html += '<table id="batches"><tr><th>batch</th><th>status</th><th>items</th><th>succeeded / failed</th><th>age</th><th>provider ids</th></tr>';
    for (const b of d.batches.inFlight) {
      html += `<tr><td>${esc(b.name)}</td><td>${esc(b.providerStatus)}</td><td class="num">${b.items}</td><td class="num">${b.succeeded} / ${b.failed}</td><td class="num">${fmtDuration(b.ageSeconds * 1000)}</td><td><code>${esc(b.providerIds.join(' '))}</code></td></tr>`;
    }
    html += '</table>';
  }
  html += `<p><a id="review-link" href="/runs/${id}/review">review drafts (${d.verdicts.NEEDS_FIX} NEEDS_FIX, ${d.verdicts.PASS} PASS)</a></p>`;
  if (canAct) html += `<div class="actions">${button('pause', 'pause', r.status === 'running')}${button('resume', 'resume', r.status === 'paused')}${button('stop', 'stop', !ended)}</div>`;

  html += '<h2>Charts</h2><div class="charts">';
  html += lineChart({ id: 'chart-priority', title: 'Top gap priority per iteration', xs, ys: its.map((i) => i.topPriority), color: '#2471a3' });
  html += verdictBars('chart-verdicts', 'Verdicts per iteration', its.map((i) => ({ x: i.iter, ...i.verdicts })));
  html += lineChart({ id: 'chart-calls', title: 'Calls used (cumulative) vs budget', xs, ys: its.map((i) => i.callsUsedTotal), color: '#7d3c98', limit: { value: r.maxCalls, label: `budget ${r.maxCalls}` }, counts: true });
  html += '</div>';

  html += `<h2>Iterations</h2><table id="iterations"><thead><tr><th>iter</th><th>top cell</th><th>top priority</th><th>plan</th><th>generated</th>` +
    `<th style="color:${VERDICT_COLORS.PASS}">PASS</th><th style="color:${VERDICT_COLORS.NEEDS_FIX}">NEEDS_FIX</th><th style="color:${VERDICT_COLORS.DROP}">DROP</th><th>unjudged</th><th>calls (total)</th><th>tokens in / out</th><th>cost</th><th>wall</th></tr></thead><tbody>`;
  for (const i of its) {
    const wall = i.startedAt && i.finishedAt ? Date.parse(i.finishedAt) - Date.parse(i.startedAt) : null;
    html += `<tr><td class="num">${i.iter}</td><td>${esc(i.topCell?.join(' / ') ?? '-')}</td><td class="num">${i.topPriority === null ? '-' : i.topPriority.toFixed(3)}</td><td class="num">${i.planSize}</td><td class="num">${i.generated}</td>` +
      `<td class="num">${i.verdicts.PASS}</td><td class="num">${i.verdicts.NEEDS_FIX}</td><td class="num">${i.verdicts.DROP}</td><td class="num">${i.unjudged}</td><td class="num">${i.callsUsed} (${i.callsUsedTotal})</td>` +
      `<td class="num">${i.tokensIn} / ${i.tokensOut}</td><td class="num">${money(i.costUsd)}</td><td class="num">${i.closed ? fmtDuration(wall) : ended ? (i.planSize > 0 || i.generated > 0 ? 'not closed' : 'planned only') : 'running'}</td></tr>`;
  }
  html += '</tbody></table>';

  html += `<h2>Failed judge chunks</h2>`;
  if (d.failedJudgeChunks.length === 0) html += '<p id="failed-none" class="muted">None.</p>';
  else {
    // The budget field: the same choice as `vault-loop retry --max-calls N` (raises, never lowers).
    if (canAct)
      html +=
        `<div class="actions"><form class="inline" method="post" action="/api/runs/${id}/retry-failed">` +
        `<label>raise budget to <input type="number" name="max_calls" id="retry-max-calls" min="1" placeholder="${r.maxCalls}" style="width:6em"> calls</label> ` +
        `<button type="submit" id="btn-retry-failed">retry all (${d.failedJudgeChunks.length})</button></form></div>`;
    html += '<table id="failed"><thead><tr><th>job</th><th>iteration</th><th>chunk</th><th>drafts</th><th>attempts</th><th>reason</th>' + (canAct ? '<th></th>' : '') + '</tr></thead><tbody>';
    for (const f of d.failedJudgeChunks) {
      html += `<tr data-job="${esc(f.jobId)}"><td><code>${esc(f.jobId)}</code></td><td class="num">${f.iter}</td><td class="num">${f.chunk}</td><td class="num">${f.drafts}</td><td class="num">${f.attemptsMade}</td><td>${esc(f.failedReason)}</td>` +
        (canAct ? `<td><form class="inline" method="post" action="/api/runs/${id}/judge/${encodeURIComponent(f.jobId)}/retry"><button type="submit" class="retry">retry</button></form></td>` : '') +
        '</tr>';
    }
    html += '</tbody></table>';
  }

  const late = d.pendingLate;
  if (late.judge.length + late.apply.length > 0) {
    html += `<h2>Pending late work</h2><p id="late-pending" class="warn">${late.judge.length} retried judge chunk(s) waiting to be judged, ${late.apply.length} late apply(s) waiting for the vault. ` +
      'A `vault-loop run` on the vault, `vault-loop retry`, or `vault-loop dashboard --vault` applies them; until then the records do not include them.</p>';
  }

  html += `<h2>Coverage gaps${grid.iter === null ? '' : ` (report of iteration ${grid.iter})`}</h2>`;
  html += '<p class="muted">zone × level per track, coloured by gap priority (darker: a bigger gap).</p>';
  html += `<div class="heatmaps">${heatmaps(grid)}</div>`;
  return html;
}

/**
 * Live view: server-sent events say when the run changed; the page then fetches its body again.
 * It starts from the fingerprint of what was rendered, so a change between the render and the
 * event stream's first message is not missed.
 */
const LIVE_SCRIPT = (runId: string, renderedFp: string) => `
(function(){
  var id=${JSON.stringify(encodeURIComponent(runId))};
  var es=new EventSource('/api/runs/'+id+'/events');
  var last=${JSON.stringify(renderedFp).replace(/</g, '\\u003c')};
  es.onmessage=function(ev){
    if(ev.data!==last){
      fetch('/runs/'+id+'?fragment=1',{credentials:'same-origin'}).then(function(r){return r.ok?r.text():null}).then(function(t){
        if(t!==null){document.getElementById('run-body').innerHTML=t;document.body.dataset.updates=String(Number(document.body.dataset.updates||0)+1);}
      });
    }
    last=ev.data;
  };
})();`;

export function runPage(d: RunDetail, grid: CoverageGrid, role: Role): string {
  return layout(`vault-loop run ${d.run.runId}`, `<p><a href="/">← runs</a></p><div id="run-body">${runBody(d, grid, role)}</div>`, { role, script: LIVE_SCRIPT(d.run.runId, fingerprint(d)) });
}

export function notFoundPage(what: string, role: Role): string {
  return layout('not found', `<h1>Not found</h1><p>${esc(what)}</p>`, { role });
}
