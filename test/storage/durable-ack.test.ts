import { describe, it, expect, afterAll } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { LedgerStore } from '../../src/storage/ledger-store.js';
import { encodeHeader, headerHash, txRootOf, type BlockHeader } from '../../src/chain/block-header.js';
import { tempDir } from '../support/fixtures.js';

const dirs: { remove(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.remove()));

/**
 * A SIGKILL cannot tell "committed" from "flushed" (the OS keeps the page cache of a killed
 * process), so the crash test cannot see an ack sent between the two. This pins the contract the
 * acknowledgement chain rests on (onBlock ← ledger thread reply ← `durable` of writeBlock): with
 * lmdb's flush held back, a block is visible but `durable` does not resolve until the flush does.
 */
describe('LedgerStore.writeBlock acknowledges only after the flush', () => {
  it('resolves visible at commit, durable only once lmdb reports the commit flushed', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const store = new LedgerStore({ path: dir.path, mapSizeMb: 64 });
    const real = store.root.flushed;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let flushRequests = 0;
    // `flushed` is a thenable on the lmdb store prototype: shadow it on this instance.
    Object.defineProperty(store.root, 'flushed', {
      configurable: true,
      get: () => {
        flushRequests++;
        return gate.then(() => real);
      },
    });
    try {
      const header: BlockHeader = {
        height: 0,
        timestamp: 0,
        txCount: 0,
        committed: 0,
        rejected: 0,
        parentHash: Buffer.alloc(32),
        parentStateRoot: Buffer.alloc(32),
        stateRoot: Buffer.alloc(32, 7),
        txRoot: txRootOf(new Uint8Array(0)),
        round: 0,
      };
      const encodedHeader = encodeHeader(header);
      const w = store.writeBlock({
        header,
        encodedHeader,
        hash: headerHash(encodedHeader),
        payload: new Uint8Array(0),
        ids: new Uint8Array(0),
        statuses: new Uint8Array(0),
        accounts: [{ key: Buffer.alloc(32, 1), balance: 5, nonce: 0, leaf: null }],
      });
      let durable = false;
      void w.durable.then(() => (durable = true));
      await w.visible;
      store.refresh();
      expect(store.tip()?.height).toBe(0);
      await sleep(50);
      expect(flushRequests).toBeGreaterThan(0);
      expect(durable).toBe(false);
      release();
      await w.durable;
      expect(durable).toBe(true);
    } finally {
      delete (store.root as unknown as Record<string, unknown>).flushed;
      await store.close();
    }
  });
});
