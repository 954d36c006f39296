import type { Command } from 'commander';
import { register as validate } from './validate.js';
import { register as check } from './check.js';
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

export type Register = (program: Command) => void;

/**
 * Every CLI command, in help order, with the command words its register function adds (a test
 * checks they agree): a start for one command defines only that one.
 */
export const COMMAND_TABLE: readonly { words: readonly string[]; register: Register }[] = [
  { words: ['validate'], register: validate },
  { words: ['check'], register: check },
  { words: ['fix-areas'], register: fixAreas },
  { words: ['synth'], register: synth },
  { words: ['analyze'], register: analyze },
  { words: ['run'], register: run },
  { words: ['worker'], register: worker },
  { words: ['status'], register: status },
  { words: ['stop', 'pause', 'resume'], register: control },
  { words: ['retry'], register: retry },
  { words: ['render'], register: render },
  { words: ['dashboard'], register: dashboard },
  { words: ['promote'], register: promote },
  { words: ['manifest'], register: manifest },
  { words: ['export'], register: exportCmd },
  { words: ['revise'], register: revise },
  { words: ['judge'], register: judge },
  { words: ['demo'], register: demo },
];

/** Every CLI command's register function, in help order. */
export const commands: Register[] = COMMAND_TABLE.map((c) => c.register);
