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
 * Every command module, in help order, by its file name: its register function adds the command of
 * that name, or the words MODULE_WORDS gives it (a test checks they agree). A start for one
 * command defines only that one.
 */
const MODULES: Readonly<Record<string, Register>> = {
  validate,
  check,
  'fix-areas': fixAreas,
  synth,
  analyze,
  run,
  worker,
  status,
  control,
  retry,
  render,
  dashboard,
  promote,
  manifest,
  export: exportCmd,
  revise,
  judge,
  demo,
};
/** The modules that add more than the command of their own name. */
const MODULE_WORDS: Readonly<Record<string, readonly string[]>> = { control: ['stop', 'pause', 'resume'] };

/** Every CLI command with the command words its register function adds, in help order. */
export const COMMAND_TABLE: readonly { words: readonly string[]; register: Register }[] = Object.entries(MODULES).map(([name, register]) => ({
  words: MODULE_WORDS[name] ?? [name],
  register,
}));

/** Every CLI command's register function, in help order. */
export const commands: Register[] = COMMAND_TABLE.map((c) => c.register);
