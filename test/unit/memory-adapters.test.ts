import {
  MemoryAccountStore,
  MemoryAuthStateStore,
  MemoryLedger,
} from '../../functions/adapters/memory/index.ts';
import {
  accountStoreContract,
  authStateContract,
  ledgerContract,
} from '../contract/ledger.contract.ts';

ledgerContract('memory', async () => new MemoryLedger());
accountStoreContract('memory', async () => new MemoryAccountStore());
authStateContract('memory', async () => new MemoryAuthStateStore());
