import { memoryBudget } from '../../functions/core/budget.ts';
import { callBudgetContract } from '../contract/call-budget.contract.ts';

callBudgetContract('in-memory', async (cfg) => memoryBudget(cfg), { runs: 200 });
