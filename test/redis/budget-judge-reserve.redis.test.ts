/**
 * Judge what you buy: the plan step sets aside, in Redis, the judge calls of its drafts before any
 * generate call, and generation with its repair calls spends only the rest. With a budget of 3
 * calls (test/unit/core-runs.test.ts sweeps 2 to 10 in memory, the heavy suite on Redis:
 * test/heavy/budget-judge-reserve-sweep.test.ts), with a model whose every generate answer needs a
 * repair call and with one that needs none, a run never leaves a draft unjudged and never makes
 * more provider calls than its budget (counted at the fake provider, which sees every request of
 * both roles).
 */
import { budgetSweep } from '../helpers/budget-sweep.js';

budgetSweep('budgetjudge', [3]);
