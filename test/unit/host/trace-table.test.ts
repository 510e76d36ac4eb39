import { describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../../src/host/trace-record.js';
import { TraceTable } from '../../../src/host/trace-table.js';

function end(table: TraceTable, record: TraceRecord, at: number): void {
  record.finish({ kind: 'end', status: 'COMPLETED', error: undefined }, at);
  table.markEnded(record);
}

describe('TraceTable', () => {
  it('keeps running records, forgets ended ones oldest end first over the cap, and reports each forgotten record once', () => {
    const forgotten: string[] = [];
    const table = new TraceTable({ capacity: 4, retentionMs: 1000, maxEnded: 2, onForget: (r) => forgotten.push(r.traceId) });
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((id) => table.create(`t\u001f${id}`, 't', id)) as [TraceRecord, TraceRecord, TraceRecord, TraceRecord];
    end(table, b, 1);
    end(table, a, 2);
    // a runs again (re-emitted): it leaves the ended list until it ends again.
    a.reopen();
    table.markRunning(a);
    end(table, c, 3);
    expect(table.endedCount).toBe(2);
    end(table, a, 4);
    // Ended in order b, c, a: b is over the cap of 2.
    expect(forgotten).toEqual(['b']);
    expect(table.get('t\u001fb')).toBeUndefined();
    expect(table.get('t\u001fd')).toBe(d);
    expect([table.size, table.endedCount]).toEqual([3, 2]);
    table.delete(b);
    expect(forgotten).toEqual(['b']);
  });

  it('sweeps ended records past the retention, oldest first, and never a running one', () => {
    const forgotten: string[] = [];
    const table = new TraceTable({ capacity: 4, retentionMs: 100, maxEnded: 10, onForget: (r) => forgotten.push(r.traceId) });
    const [a, b] = ['a', 'b'].map((id) => table.create(`t\u001f${id}`, 't', id)) as [TraceRecord, TraceRecord];
    const running = table.create('t\u001fr', 't', 'r');
    end(table, a, 1000);
    end(table, b, 1050);
    table.sweep(1099);
    expect(forgotten).toEqual([]);
    table.sweep(1100);
    expect(forgotten).toEqual(['a']);
    table.sweep(5000);
    expect(forgotten).toEqual(['a', 'b']);
    expect(table.get('t\u001fr')).toBe(running);
    expect([table.size, table.endedCount]).toEqual([1, 0]);
  });
  it('signals idle when the last running record ends or is forgotten, and not while one still runs', async () => {
    const table = new TraceTable({ capacity: 4, retentionMs: 1000, maxEnded: 10 });
    await table.whenIdle(); // nothing runs: at once
    const [a, b] = ['a', 'b'].map((id) => table.create(`t\u001f${id}`, 't', id)) as [TraceRecord, TraceRecord];
    let idle = false;
    const waiting = table.whenIdle().then(() => (idle = true));
    end(table, a, 1);
    await Promise.resolve();
    expect([idle, table.running]).toEqual([false, 1]);
    // A record given up before admission leaves without ending: it counts too.
    table.delete(b);
    await waiting;
    expect([idle, table.running]).toEqual([true, 0]);
    // Re-emitting an ended trace makes the table busy again.
    a.reopen();
    table.markRunning(a);
    expect(table.running).toBe(1);
  });
});
