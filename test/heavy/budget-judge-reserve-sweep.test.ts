/**
 * The judge-pool budget sweep over every other budget from 2 to 10 calls, with and without repair
 * calls (test/helpers/budget-sweep.ts); `npm test` runs budget 3 on Redis
 * (test/redis/budget-judge-reserve.redis.test.ts) and every budget in memory
 * (test/unit/core-runs.test.ts).
 */
import { budgetSweep } from '../helpers/budget-sweep.js';

budgetSweep('budgetsweep', [2, 4, 5, 6, 7, 8, 9, 10]);
