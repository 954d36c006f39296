import type { Command } from 'commander';
import { register as validate } from './validate.js';
import { register as fixAreas } from './fix-areas.js';
import { register as synth } from './synth.js';
import { register as analyze } from './analyze.js';
import { register as run } from './run.js';
import { register as worker } from './worker.js';
import { register as status } from './status.js';
import { register as control } from './control.js';
import { register as retry } from './retry.js';
import { register as render } from './render.js';
import { register as dashboard } from './dashboard.js';
import { register as promote } from './promote.js';
import { register as manifest } from './manifest.js';
import { register as exportCmd } from './export.js';
import { register as revise } from './revise.js';
import { register as judge } from './judge.js';
import { register as demo } from './demo.js';

/** Every CLI command, in help order. */
export const commands: ((program: Command) => void)[] = [validate, fixAreas, synth, analyze, run, worker, status, control, retry, render, dashboard, promote, manifest, exportCmd, revise, judge, demo];
