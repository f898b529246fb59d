/**
 * Hold, unhold, priority and trust changes are audited with who made them and the values
 * before and after (issue 12), whichever way they reach the board: the HTTP API (what the
 * dashboard's actions call) or a maintainer's own edit of `owp/board` over sync (the
 * Obsidian plugin). Real relay, real LevelDB, a real Yjs client, the real CLI.
 */
import * as Y from 'yjs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../shared/model.js';
import { describeEvent } from '../../shared/dashboard/format.js';
import { owp } from '../helpers/cli-run.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { connectDoc, type YClient } from '../helpers/yclient.js';

const enc = encodeURIComponent;
const TASK = 'acme/audited:a';
let r: TestRelay;
let ann: string;
let bea: string;
const clients: YClient[] = [];

beforeAll(async () => {
  r = await startTestRelay();
  ann = (await r.relay.tokens.create({ role: 'maintainer', name: 'ann' })).token;
  bea = (await r.relay.tokens.create({ role: 'maintainer', name: 'bea' })).token;
  expect((await r.api(ann, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: TASK, repo: 'acme/audited', title: 'A' }] })).status).toBe(200);
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await r?.close();
});

type Entry = AuditEvent & { seq: number };
const history = async (q: string): Promise<Entry[]> => (await r.api(ann, 'GET', `/api/audit?${q}&since=0&limit=1000`)).body.entries as Entry[];
const edits = (entries: Entry[]) =>
  entries.filter((e) => ['task-held', 'task-unheld', 'task-priority-changed', 'trust-changed'].includes(e.kind)).map(({ kind, actor, before, after, taskId, workerId }) => ({ kind, actor, before, after, taskId, workerId }));

describe('board edits in the audit log', () => {
  it('hold, unhold and priority over HTTP name the maintainer and the values before and after', async () => {
    expect((await r.api(ann, 'PATCH', `/api/tasks/${enc(TASK)}`, { held: true })).status).toBe(200);
    expect((await r.api(bea, 'PATCH', `/api/tasks/${enc(TASK)}`, { priority: 7 })).status).toBe(200);
    expect((await r.api(ann, 'PATCH', `/api/tasks/${enc(TASK)}`, { held: false, priority: -3 })).status).toBe(200);
    // An edit that changes nothing is not history.
    expect((await r.api(ann, 'PATCH', `/api/tasks/${enc(TASK)}`, { held: false })).status).toBe(200);
    const got = await waitFor(async () => {
      const e = edits(await history(`task=${enc(TASK)}`));
      return e.length >= 4 ? e : undefined;
    }, 10_000, 'four audited edits');
    expect(got).toEqual([
      { kind: 'task-held', actor: 'maintainer-ann', before: false, after: true, taskId: TASK, workerId: undefined },
      { kind: 'task-priority-changed', actor: 'maintainer-bea', before: 0, after: 7, taskId: TASK, workerId: undefined },
      { kind: 'task-unheld', actor: 'maintainer-ann', before: true, after: false, taskId: TASK, workerId: undefined },
      { kind: 'task-priority-changed', actor: 'maintainer-ann', before: 7, after: -3, taskId: TASK, workerId: undefined },
    ]);
    expect((await r.api(ann, 'GET', '/api/audit/verify')).body.ok).toBe(true);
  });

  it("a maintainer's edit of the board over sync is audited under their name", async () => {
    const c = await connectDoc(r.wsUrl, 'owp/board', bea);
    clients.push(c);
    const task = await waitFor(() => c.doc.getMap('tasks').get(TASK) as Y.Map<unknown> | undefined, 10_000, 'the task in the synced board');
    c.doc.transact(() => {
      task.set('held', true);
      task.set('priority', 12);
    });
    const got = await waitFor(async () => {
      const e = edits(await history(`task=${enc(TASK)}`)).slice(4);
      return e.length >= 2 ? e : undefined;
    }, 10_000, 'the synced edits audited');
    expect(got).toEqual([
      { kind: 'task-held', actor: 'maintainer-bea', before: false, after: true, taskId: TASK, workerId: undefined },
      { kind: 'task-priority-changed', actor: 'maintainer-bea', before: -3, after: 12, taskId: TASK, workerId: undefined },
    ]);
  });

  it('a trust change names the maintainer, the worker and both tiers; the history shows it in words', async () => {
    expect((await r.api(ann, 'PUT', '/api/trust/wendy', { tier: 2 })).status).toBe(200);
    expect((await r.api(ann, 'PUT', '/api/trust/wendy', { tier: 2 })).status).toBe(200);
    const got = await waitFor(async () => {
      const e = (await history('worker=wendy')).filter((x) => x.kind === 'trust-changed');
      return e.length >= 1 ? e : undefined;
    }, 10_000, 'the trust change audited');
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ kind: 'trust-changed', actor: 'maintainer-ann', workerId: 'wendy', before: 1, after: 2 });
    expect(describeEvent(got[0]!)).toBe('trust changed (wendy) 1 -> 2 by maintainer-ann');
  });

  it('`owp task show` and `owp audit` list the edits with their values', async () => {
    const home = mkdtempSync(join(tmpdir(), 'owp-board-audit-'));
    const shown = await owp(['task', 'show', TASK], { url: r.url, token: ann, home });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/task-priority-changed\s+0>7\s+maintainer-bea/);
    expect(shown.stdout).toMatch(/task-held\s+false>true\s+maintainer-ann/);
    const audit = await owp(['audit', '--worker', 'wendy'], { url: r.url, token: ann, home });
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/trust-changed\s+wendy\s+1>2\s+maintainer-ann/);
  });
});
