/** The store contract on the in-memory store. */
import { MemoryStateStore } from '../../../src/state/index.js';
import { storeContract } from './contract.js';

storeContract('memory', {
  open: async () => {
    const store = new MemoryStateStore();
    await store.init();
    return store;
  },
});
