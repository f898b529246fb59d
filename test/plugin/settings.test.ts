import { describe, expect, it, vi } from 'vitest';
vi.mock('obsidian', () => import('../obsidian/index.js'));
import fs from 'node:fs';
import path from 'node:path';
import { createTestApp, noticeLog, secretStore } from '../obsidian/index.js';
import { secretId } from '../../plugin/settings/secret.js';
import OwpPoolPlugin from '../../plugin/main.js';
import { DEFAULT_SETTINGS, normaliseSettings, yjsServerUrl } from '../../plugin/settings/settings.js';
import { statusText } from '../../plugin/views/status.js';
import { cacheName } from '../../plugin/sync/client.js';
import { MANIFEST, makeVaultDir, usePlatform } from '../helpers/plugin-vault.js';
import { waitFor } from '../helpers/relay.js';

usePlatform();

describe('plugin settings', () => {
  it('normalises a hand-written data.json: defaults for missing or bad values, unknown keys dropped', () => {
    expect(normaliseSettings(null)).toEqual(DEFAULT_SETTINGS);
    const s = normaliseSettings({ relayUrl: 'http://relay:8787/', token: ' owp_x ', tasksFolder: '/Work/Tasks/', skills: 'TypeScript, docs, bad skill!, docs', capacity: '4', maxConcurrent: 0, extra: 1, suppressed: ['a', 'a', 3] });
    expect(s).toEqual({ ...DEFAULT_SETTINGS, relayUrl: 'http://relay:8787', token: 'owp_x', tasksFolder: 'Work/Tasks', skills: ['typescript', 'docs'], capacity: 4, maxConcurrent: 1, suppressed: ['a'] });
    expect(yjsServerUrl('https://pool.example.org')).toBe('wss://pool.example.org/yjs');
    // the tasks folder never leaves the vault
    expect(normaliseSettings({ tasksFolder: '../../etc' }).tasksFolder).toBe('etc');
    expect(normaliseSettings({ tasksFolder: './a//..\\b/' }).tasksFolder).toBe('a/b');
    expect(normaliseSettings({ tasksFolder: '..' }).tasksFolder).toBe(DEFAULT_SETTINGS.tasksFolder);
    expect(normaliseSettings({ notesFolder: '/Old/' }).notesFolder).toBe('Old');
  });

  it('names the local cache per vault and per relay', () => {
    expect(cacheName('vault1', 'http://127.0.0.1:8787', 'owp/board')).toBe('owp:vault1:http://127.0.0.1:8787:owp/board');
    expect(cacheName('vault1', 'http://a', 'owp/board')).not.toBe(cacheName('vault2', 'http://a', 'owp/board'));
  });

  it('shows connection, pending intents and the lease countdown in the status bar text', () => {
    const lease = { taskId: 'o/r#1', workerId: 'bob', fencingToken: 1, grantedAt: 0, expiresAt: 3_725_000, ttlMs: 1 };
    const rt = { taskId: 'o/r#1', repo: 'o/r', state: 'leased' as const, attempt: 1, fencingToken: 1, queuedAt: 0, updatedAt: 0, lease };
    expect(statusText({ status: 'offline', pending: 2, leases: [rt], now: 0 })).toBe('OWP: offline · 2 pending · o/r#1 1h 02m');
    expect(statusText({ status: 'connected', pending: 0, leases: [], now: 0 })).toBe('OWP: connected');
    expect(statusText({ status: 'connected', pending: 1, leases: [], now: 0, hosting: 'http://127.0.0.1:8787' })).toBe('OWP: connected · hosting 127.0.0.1:8787 · 1 pending');
  });

  it('edits settings through the settings tab and saves them to data.json', async () => {
    const dir = await makeVaultDir('settings');
    try {
      const app = createTestApp(dir);
      const plugin = new OwpPoolPlugin(app as never, MANIFEST);
      const mark = noticeLog.length;
      plugin.load();
      await (plugin as unknown as { loading: Promise<void> }).loading;
      await waitFor(() => noticeLog.slice(mark).some((n) => /no token yet/.test(n.message)), 10_000, 'no token notice');
      const tab = app.setting.tabs[0]!;
      tab.display();
      const settings = [...tab.containerEl.querySelectorAll('.setting-item')].map((el) => el.querySelector('.setting-item-name')?.textContent);
      expect(settings).toEqual([
        'Connection', 'Relay address', 'Token', 'Apply connection settings', 'Notes', 'Tasks folder', 'Archive finished tasks after (days)',
        'Contributor profile', 'Display name', 'Skills', 'Capacity points', 'Maximum concurrent tasks',
        'Hosting', 'Host the pool from this vault', 'Listen address', 'Port', 'Data folder', 'Apply hosting settings',
      ]);
      const input = (name: string) => {
        const item = [...tab.containerEl.querySelectorAll('.setting-item')].find((el) => el.querySelector('.setting-item-name')?.textContent === name)!;
        return item.querySelector('input')!;
      };
      const type = (name: string, v: string) => {
        const el = input(name);
        el.value = v;
        el.dispatchEvent(new (el.ownerDocument.defaultView as unknown as { Event: typeof Event }).Event('input'));
      };
      expect(input('Token').type).toBe('password');
      type('Tasks folder', 'Work/OWP/');
      type('Skills', 'Rust, docs');
      type('Archive finished tasks after (days)', '30');
      type('Token', 'owp_typed_in_the_tab');
      type('Capacity points', '6');
      const file = path.join(dir, '.obsidian/plugins/owp-pool/data.json');
      await waitFor(() => fs.existsSync(file) && JSON.parse(fs.readFileSync(file, 'utf8')).capacity === 6, 10_000, 'saved');
      expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ relayUrl: 'http://127.0.0.1:8787', tasksFolder: 'Work/OWP', skills: ['rust', 'docs'], capacity: 6, maxConcurrent: 1, archiveAfterDays: 30, token: '' });
      // the token went to the app's secret storage, never into data.json (which syncs with the vault)
      expect(fs.readFileSync(file, 'utf8')).not.toContain('owp_typed_in_the_tab');
      expect(secretStore.get(secretId(app.appId))).toBe('owp_typed_in_the_tab');
      plugin.unload();
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  });
});
