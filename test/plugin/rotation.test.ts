/**
 * The plugin across a document rotation (docs/ROTATION.md): a maintainer's vault (real
 * plugin, Obsidian double, y-indexeddb cache over fake-indexeddb) holds a task while offline;
 * the relay rotates the board and the ledger meanwhile. Back online the plugin drops its old
 * copies and caches without a notice, syncs the new generations, and its offline edit reaches
 * the relay; the cache then holds the new generation (the board reads offline from it).
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
vi.mock('obsidian', () => import('../obsidian/index.js'));
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as Y from 'yjs';
import { retiredOf, ROTATION_ROOT } from '../../shared/doc-rotation.js';
import { BOARD_DOC, LEDGER_DOC, ORIGIN } from '../../shared/protocol.js';
import { staleClients } from '../../server/sync/rotation.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { makeVaultDir, openVault, usePlatform, type TestVault } from '../helpers/plugin-vault.js';
import { noticeLog } from '../obsidian/index.js';

usePlatform();

let relay: TestRelay | undefined;
let V: TestVault | undefined;
let dataDir: string | undefined;
afterAll(async () => {
  await V?.close();
  await relay?.close();
  if (dataDir) await fs.promises.rm(dataDir, { recursive: true, force: true });
});

const enc = encodeURIComponent;
const ALWAYS = { docs: [BOARD_DOC, LEDGER_DOC], minGarbageBytes: 0, garbageFactor: 0 };

describe('plugin across a rotation', () => {
  it('drops the old copies and caches quietly, resyncs, and keeps an edit made offline', async () => {
    dataDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'owp-relay-rotation-'));
    relay = await startTestRelay({ dataDir, rotation: ALWAYS });
    const r = relay;
    const maint = await r.token('maintainer');
    const w = await r.token('worker', 'rw');
    expect((await r.api(w, 'POST', '/api/workers/register', { skills: [], capacity: 10, maxConcurrent: 5, maxOpenPrs: 5 })).status).toBe(200);
    const tasks = [1, 2, 3].map((i) => ({ id: `octo/rot#${i}`, repo: 'octo/rot', title: `Rot ${i}` }));
    expect((await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks })).status).toBe(200);
    V = await openVault(await makeVaultDir('rotation'), { relayUrl: r.url, token: maint });
    await waitFor(() => V!.plugin.session?.client.status === 'connected', 15_000, 'connected');
    const session = V.plugin.session!;
    await waitFor(() => session.client.board.getMap('tasks').size === 3, 15_000, 'the board');

    session.client.disconnect();
    const task2 = session.client.board.getMap('tasks').get('octo/rot#2') as Y.Map<unknown>;
    session.client.board.transact(() => task2.set('held', true), ORIGIN.plugin); // as the hold command does
    // History on the relay meanwhile: a title rewritten, repos added and removed, a claim
    // completed; then both rotate.
    expect((await r.api(maint, 'POST', '/api/tasks', { tasks: [{ ...tasks[0], title: 'Rot 1 once more' }] })).status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await r.api(maint, 'PUT', `/api/repos/octo/gone${i}`, { reviewBudget: 5 })).status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await r.api(r.adminToken, 'DELETE', `/api/repos/octo/gone${i}`)).status).toBe(200);
    const c = await r.api(w, 'POST', '/api/claim', { taskId: 'octo/rot#3' });
    expect((await r.api(w, 'POST', `/api/tasks/${enc('octo/rot#3')}/complete`, { fencingToken: c.body.lease.fencingToken })).status).toBe(200);
    await r.relay.docs.compact(BOARD_DOC);
    await r.relay.docs.compact(LEDGER_DOC);
    expect(r.relay.docs.generation(BOARD_DOC)).toBe(1);
    expect(r.relay.docs.generation(LEDGER_DOC)).toBe(1);

    const mark = noticeLog.length;
    session.client.reconnect();
    await waitFor(() => session.client.board.getMap(ROTATION_ROOT).get('generation') === 1, 15_000, 'the new board generation');
    await waitFor(() => session.client.ledger.getMap(ROTATION_ROOT).get('generation') === 1, 15_000, 'the new ledger generation');
    // The offline hold reached the relay through the fresh copy.
    await waitFor(async () => (await r.api(maint, 'GET', `/api/tasks/${enc('octo/rot#2')}`)).body.task?.held === true, 15_000, 'the carried hold');
    await waitFor(() => session.client.status === 'connected', 15_000, 'connected again');
    const relayBoard = await r.relay.docs.get(BOARD_DOC);
    await waitFor(() => JSON.stringify(session.client.board.getMap('tasks').toJSON()) === JSON.stringify(relayBoard.getMap('tasks').toJSON()), 15_000, 'the same board');
    expect(session.client.board.getMap('tasks').toJSON()).toEqual(relayBoard.getMap('tasks').toJSON());
    expect((session.client.ledger.getMap('tasks').get('octo/rot#3') as { state: string }).state).toBe('done');
    expect(staleClients(Y.encodeStateVector(session.client.board), retiredOf(relayBoard))).toEqual([]);
    expect(noticeLog.slice(mark)).toEqual([]);
    // The mirror was made again on the new documents.
    expect(session.mirror.task('octo/rot#1')?.title).toBe('Rot 1 once more');
    expect(session.mirror.task('octo/rot#2')?.held).toBe(true);

    // The cache holds the new generation: offline after a restart, the board is the new one.
    await r.close();
    relay = undefined;
    await V.restart();
    const offline = V.plugin.session!;
    expect(offline.client.board.getMap(ROTATION_ROOT).get('generation')).toBe(1);
    expect((offline.client.board.getMap('tasks').get('octo/rot#2') as Y.Map<unknown>).get('held')).toBe(true);
  });
});
