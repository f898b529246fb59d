import { afterEach, describe, expect, it } from 'vitest';
import { startTestRelay, waitFor, type TestRelay } from '../../helpers/relay.js';

let r: TestRelay | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

describe('board changes reach the ledger without waiting for an intent', () => {
  it('an imported task gets its queued runtime, and a cancelled one ends, with no intent sent', async () => {
    r = await startTestRelay();
    const m = await r.token('maintainer');
    expect((await r.api(m, 'PUT', '/api/repos/octo/hello', { reviewBudget: 3 })).status).toBe(200);
    const up = await r.api(m, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'octo/hello:a', repo: 'octo/hello', title: 'A' }] });
    expect(up.status).toBe(200);
    const id = encodeURIComponent('octo/hello:a');
    await waitFor(async () => (await r!.api(m, 'GET', `/api/tasks/${id}`)).body?.runtime?.state === 'queued', 10_000, 'queued runtime');

    const patched = await r.api(m, 'PATCH', `/api/tasks/${id}`, { cancelled: true });
    expect(patched.status).toBe(200);
    await waitFor(async () => (await r!.api(m, 'GET', `/api/tasks/${id}`)).body?.runtime?.state === 'cancelled', 10_000, 'cancelled runtime');
    const audit = await r.api(m, 'GET', `/api/audit?task=${id}`);
    expect(audit.body.entries.map((e: { kind: string }) => e.kind)).toContain('task-cancelled');
  });
});
