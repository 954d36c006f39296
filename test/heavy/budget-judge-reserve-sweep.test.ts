/**
 * The judge-pool budget sweep over every other budget from 2 to 10 calls, with and without repair
 * calls (test/helpers/budget-sweep.ts); `npm test` runs budgets 3 and 7
 * (test/redis/budget-judge-reserve.redis.test.ts).
 */
import { budgetSweep } from '../helpers/budget-sweep.js';

budgetSweep('budgetsweep', [2, 4, 5, 6, 8, 9, 10]);
