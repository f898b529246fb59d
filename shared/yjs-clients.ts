/**
 * A bound on the items one Yjs client id holds in a document a writer keeps adding maps to.
 *
 * Yjs keeps each client id's items in one array; removing a map entry whose value is a
 * shared type (a task on `owp/board`: a Y.Map of fields) merges the fields' tombstones with
 * one splice of that array, so its cost grows with every item that client id ever wrote.
 * The relay writes every board task under its one client id: after 100,000 lifecycles an
 * archived task cost 0.5-1.8 ms of splicing (docs/BENCHMARKS.md, "Session 7"). A writer
 * that takes a new client id once its current one holds `maxItems` keeps that cost
 * O(maxItems). The state vector grows by one entry per `maxItems` items written (a rotation
 * folds them into `rotation.retired`).
 */
import { uint32 } from 'lib0/random';
import * as Y from 'yjs';
import { retiredOf } from './doc-rotation.js';

/** About 1,800 board tasks (11 items each) per client id. */
export const CLIENT_ITEMS_MAX = 20_000;

/** Give `doc` a fresh client id (never one it holds items of, nor a retired one) once its own holds `maxItems` items. */
export function boundClientItems(doc: Y.Doc, maxItems = CLIENT_ITEMS_MAX): void {
  if (Y.getState(doc.store, doc.clientID) < maxItems) return;
  const retired = retiredOf(doc);
  let id = uint32();
  while (doc.store.clients.has(id) || retired.has(id)) id = uint32();
  doc.clientID = id;
}
