/** The Obsidian double must behave like Obsidian where the plugin relies on it. */
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Component, createTestApp, normalizePath, requestUrl, TFile, TFolder, type App } from '../obsidian/index.js';

const dirs: string[] = [];
async function app(): Promise<App> {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'owp-double-'));
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, 'Existing'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'Existing/Old.md'), '---\ntags: [a, b]\n---\nbody\n');
  return createTestApp(dir);
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.promises.rm(d, { recursive: true, force: true });
});

describe('Obsidian test double', () => {
  it('indexes an existing folder and writes to disk before firing events', async () => {
    const a = await app();
    expect(a.vault.getAbstractFileByPath('Existing')).toBeInstanceOf(TFolder);
    expect(a.vault.getMarkdownFiles().map((f) => f.path)).toEqual(['Existing/Old.md']);
    const seen: string[] = [];
    a.vault.on('create', (f: TFile) => seen.push(`create ${f.path} ${fs.existsSync(a.vault.abs(f.path))}`));
    a.vault.on('modify', (f: TFile) => seen.push(`modify ${f.path} ${fs.readFileSync(a.vault.abs(f.path), 'utf8')}`));
    a.vault.on('rename', (f: TFile, old: string) => seen.push(`rename ${old} -> ${f.path}`));
    a.vault.on('delete', (f: TFile) => seen.push(`delete ${f.path} ${fs.existsSync(a.vault.abs(f.path))}`));
    const f = await a.vault.create('Existing/New.md', 'one');
    await a.vault.modify(f, 'two');
    expect(await a.vault.process(f, (t) => t)).toBe('two'); // unchanged: no write, no event
    await a.vault.process(f, (t) => t + '!');
    await a.vault.rename(f, 'Existing/Renamed.md');
    expect(f.path).toBe('Existing/Renamed.md');
    expect(f.basename).toBe('Renamed');
    await a.vault.delete(f);
    expect(seen).toEqual([
      'create Existing/New.md true',
      'modify Existing/New.md two',
      'modify Existing/New.md two!',
      'rename Existing/New.md -> Existing/Renamed.md',
      'delete Existing/Renamed.md false',
    ]);
    await expect(a.vault.create('Existing/Old.md', 'x')).rejects.toThrow(/already exists/);
  });

  it('parses frontmatter into the metadata cache and reformats YAML in processFrontMatter like Obsidian', async () => {
    const a = await app();
    const f = a.vault.getFileByPath('Existing/Old.md')!;
    const changed = new Promise<void>((r) =>
      a.metadataCache.on('changed', (_f: TFile, _text: string, meta: { frontmatter?: Record<string, unknown> }) => {
        if (meta.frontmatter?.status === 'x') r();
      }),
    );
    await a.fileManager.processFrontMatter(f, (fm) => {
      fm.status = 'x';
    });
    await changed;
    expect(fs.readFileSync(a.vault.abs(f.path), 'utf8')).toBe('---\ntags:\n  - a\n  - b\nstatus: x\n---\nbody\n');
    expect(a.metadataCache.getFileCache(f)?.frontmatter).toEqual({ tags: ['a', 'b'], status: 'x' });
  });

  it('answers cachedRead from memory until the file changes, and parses metadata when asked', async () => {
    const a = await app();
    const f = await a.vault.create('Note.md', '---\nstatus: a\n---\n');
    expect(a.metadataCache.getFileCache(f)?.frontmatter).toEqual({ status: 'a' });
    fs.writeFileSync(a.vault.abs(f.path), 'not through the vault, longer\n'); // an edit behind the vault's back
    expect(await a.vault.cachedRead(f)).toBe('not through the vault, longer\n');
    await a.vault.modify(f, '---\nstatus: b\n---\n');
    expect(await a.vault.cachedRead(f)).toBe('---\nstatus: b\n---\n');
    expect(a.metadataCache.getFileCache(f)?.frontmatter).toEqual({ status: 'b' });
    await a.vault.rename(f, 'Moved.md');
    expect(await a.vault.cachedRead(a.vault.getFileByPath('Moved.md')!)).toBe('---\nstatus: b\n---\n');
    expect(a.metadataCache.getCache('Moved.md')?.frontmatter).toEqual({ status: 'b' });
  });

  it('cleans up registered events and intervals when a component unloads', async () => {
    const a = await app();
    const c = new Component();
    c.load();
    let calls = 0;
    c.registerEvent(a.vault.on('modify', () => calls++));
    c.registerInterval(setInterval(() => undefined, 1000) as unknown as number);
    expect(c.registered()).toBe(2);
    c.unload();
    expect(c.registered()).toBe(0);
    await a.vault.modify(a.vault.getFileByPath('Existing/Old.md')!, 'x');
    expect(calls).toBe(0);
  });

  it('tracks the active note and simulates typing (editor-change, then save)', async () => {
    const a = await app();
    await a.workspace.openLinkText('Existing/Old', '', false);
    expect(a.workspace.getActiveFile()?.path).toBe('Existing/Old.md');
    const events: string[] = [];
    a.workspace.on('editor-change', () => events.push('editor-change'));
    a.vault.on('modify', () => events.push('modify'));
    await a.workspace.typeInActiveNote('typed');
    expect(events).toEqual(['editor-change', 'modify']);
    expect(a.workspace.activeEditor?.editor.getValue()).toBe('typed');
  });

  it('normalizes paths like Obsidian', () => {
    expect(normalizePath('/a//b\\c/')).toBe('a/b/c');
    expect(normalizePath('')).toBe('/');
  });

  it('requestUrl does real HTTP and throws on an error status unless told not to', async () => {
    const server = http.createServer((req, res) => {
      res.writeHead(req.url === '/ok' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, auth: req.headers.authorization ?? null }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const ok = await requestUrl({ url: `${base}/ok`, headers: { Authorization: 'Bearer t' } });
      expect(ok.json).toEqual({ path: '/ok', auth: 'Bearer t' });
      await expect(requestUrl(`${base}/missing`)).rejects.toMatchObject({ status: 404 });
      expect((await requestUrl({ url: `${base}/missing`, throw: false })).status).toBe(404);
    } finally {
      server.close();
    }
  });
});
