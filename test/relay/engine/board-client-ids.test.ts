/**
 * The board's writer takes a new Yjs client id once its own holds CLIENT_ITEMS_MAX items
 * (shared/yjs-clients.ts): removing an archived task then splices a bounded array, not one
 * holding every item the relay ever wrote. Never a client id the document holds items of or
 * a retired one; the content is the same either way.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ROTATION_ROOT } from '../../../shared/doc-rotation.js';
import { boundClientItems, CLIENT_ITEMS_MAX } from '../../../shared/yjs-clients.js';
import { BoardView } from '../../../server/engine/board.js';

const task = (i: number) => ({ id: `o/r#${i}`, repo: 'o/r', title: `Task ${i}`, skills: [] });

describe('boundClientItems', () => {
  it('moves to a fresh client id past the bound, never one in use or retired', () => {
    const doc = new Y.Doc();
    const m = doc.getMap<number>('m');
    const first = doc.clientID;
    boundClientItems(doc, 5);
    expect(doc.clientID).toBe(first);
    doc.transact(() => {
      for (let i = 0; i < 6; i++) m.set(`k${i}`, i);
    });
    const retired = new Map([[12345, 3]]);
    doc.getMap(ROTATION_ROOT).set('retired', Y.encodeStateVector(retired));
    boundClientItems(doc, 5);
    expect(doc.clientID).not.toBe(first);
    expect(retired.has(doc.clientID)).toBe(false);
    m.set('after', 1);
    expect([...doc.store.clients.keys()].sort()).toEqual([first, doc.clientID].sort());
    expect(m.toJSON()).toMatchObject({ k0: 0, k5: 5, after: 1 });
  });

  it("bounds the board's items per client id across imports; archiving works across them", () => {
    const board = new BoardView(new Y.Doc());
    const per = 2_000; // 11+ items a task: one import passes the bound
    board.upsertTasks(Array.from({ length: per }, (_, i) => task(i)), 1);
    board.upsertTasks(Array.from({ length: per }, (_, i) => task(per + i)), 2);
    board.upsertTasks([task(2 * per)], 3);
    const clients = [...board.doc.store.clients.entries()].map(([, structs]) => structs.length);
    expect(clients).toHaveLength(3);
    for (const n of clients) expect(n).toBeLessThan(CLIENT_ITEMS_MAX + per * 12);
    board.removeTasks(Array.from({ length: per }, (_, i) => `o/r#${2 * i}`));
    expect(Object.keys(board.board().tasks)).toHaveLength(2 * per + 1 - per);
    expect(board.board().tasks[`o/r#${2 * per}`]?.title).toBe(`Task ${2 * per}`);
  });
});
