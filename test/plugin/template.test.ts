import { afterAll, describe, expect, it, vi } from 'vitest';
vi.mock('obsidian', () => import('../obsidian/index.js'));
import fs from 'node:fs';
import path from 'node:path';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { makeVaultDir, openVault, usePlatform, type TestVault } from '../helpers/plugin-vault.js';
import { parseYamlTasksOrThrow } from '../../shared/yaml-tasks.js';
import { readTaskNote } from '../../shared/notes/task-note.js';

usePlatform();
const root = path.resolve(import.meta.dirname, '../..');
let relay: TestRelay | undefined;
let V: TestVault | undefined;

afterAll(async () => {
  await V?.close();
  await relay?.close();
});

describe('vault template', () => {
  it('is a ready vault: plugin enabled, relay preset, example tasks import and show as notes', async () => {
    const t = path.join(root, 'vault-template');
    expect(JSON.parse(fs.readFileSync(path.join(t, '.obsidian/community-plugins.json'), 'utf8'))).toEqual(['owp-pool']);
    const data = JSON.parse(fs.readFileSync(path.join(t, '.obsidian/plugins/owp-pool/data.json'), 'utf8'));
    expect(data.relayUrl).toBe('http://127.0.0.1:8787');
    expect(data).not.toHaveProperty('skills'); // each contributor sets their own
    expect(data).not.toHaveProperty('token');
    const types = JSON.parse(fs.readFileSync(path.join(t, '.obsidian/types.json'), 'utf8')).types;
    expect(types).toMatchObject({ points: 'number', skills: 'multitext', lease_expires: 'datetime', tags: 'tags' });
    const board = fs.readFileSync(path.join(t, 'OWP/Task board.md'), 'utf8');
    expect(board).toMatch(/```base\n[\s\S]*file\.hasTag\("owp"\)[\s\S]*```/);
    expect(JSON.parse(fs.readFileSync(path.join(t, '.obsidian/plugins/owp-pool/manifest.json'), 'utf8'))).toEqual(
      JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8')),
    );
    for (const note of ['OWP/Dashboard.md', 'OWP/How to contribute.md', 'OWP/Task board.md']) expect(fs.existsSync(path.join(t, note))).toBe(true);

    relay = await startTestRelay();
    const maint = await relay.token('maintainer');
    const file = parseYamlTasksOrThrow(fs.readFileSync(path.join(t, 'OWP/example-tasks.yaml'), 'utf8'), 'example-tasks.yaml');
    expect((await relay.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: file.tasks })).status).toBe(200);

    const dir = await makeVaultDir('template');
    fs.cpSync(t, dir, { recursive: true, filter: (src) => !src.endsWith('main.js') });
    V = await openVault(dir, { relayUrl: relay.url, token: await relay.token('worker', 'alice') });
    const p = 'OWP/Tasks/octo/hello/readme-typo Fix the typos in the README.md';
    await waitFor(() => V!.app.vault.getFileByPath(p), 15_000, 'example task note');
    expect(readTaskNote(V.read(p)).owned).toMatchObject({ task: 'octo/hello:readme-typo', skills: ['docs'], status: 'queued', tags: ['owp', 'owp/queued'] });
    expect(V.read('OWP/Dashboard.md')).toBe(fs.readFileSync(path.join(t, 'OWP/Dashboard.md'), 'utf8'));
  });
});
