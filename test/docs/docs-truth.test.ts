/**
 * The docs say only what exists: every `owp` command line they show names a real command and
 * only its real flags, every repository path and module name they cite is a file, every
 * `OWP_*` variable is read somewhere, every relay route (`GET /api/...`) is served, and every
 * relative link resolves. Pure reading of README.md, docs/*.md and the other READMEs against
 * the CLI's command specs and the source tree; renaming a module or a flag without its doc
 * fails here.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, resolveCommand } from '../../server/cli/main.js';
import { GLOBAL_OPTIONS } from '../../server/cli/help.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', 'data', 'owp-work', 'test-output', '.obsidian']);

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    if (SKIP_DIRS.has(e.name)) continue;
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory()) {
      out.push(rel + '/');
      walk(rel, out);
    } else out.push(rel);
  }
  return out;
}
const FILES = walk('');
const DOCS = FILES.filter((f) => f.endsWith('.md') && (f === 'README.md' || f.startsWith('docs/') || /^(examples\/[^/]+|test|bench|deploy)\/README\.md$/.test(f)));
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');

/**
 * Inline code spans and the lines of fenced code blocks of a doc. A span on a line that says the
 * thing is "not built" yet is left out: it names what does not exist on purpose.
 */
function codeOf(doc: string): string[] {
  const text = read(doc);
  const blocks = [...text.matchAll(/^```[a-z]*\n([\s\S]*?)^```/gm)].flatMap((m) => m[1]!.split('\n'));
  const prose = text.replace(/^```[a-z]*\n[\s\S]*?^```/gm, '');
  const spans = prose
    .split('\n')
    .filter((line) => !/\bnot (yet )?built\b/.test(line))
    .flatMap((line) => [...line.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!));
  return [...blocks, ...spans];
}

/** `^(a|b)` regex of a path that may hold `*` (any run of characters but `/`). */
const globRe = (p: string) => new RegExp('^' + p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*') + '$');

describe('owp command lines in the docs', () => {
  const flagsOf = (c: (typeof COMMANDS)[number]) => new Set(Object.keys({ ...GLOBAL_OPTIONS, ...c.options }).map((n) => `--${n}`));
  /** Every `owp ...` invocation: the words after `owp` (or `node bin/owp.js`) up to a shell operator or a comment. */
  function invocations(): { doc: string; line: string; argv: string[] }[] {
    const found: { doc: string; line: string; argv: string[] }[] = [];
    for (const doc of DOCS) {
      for (const code of codeOf(doc)) {
        for (const m of code.matchAll(/(?:^|[\s;&|(`$])(?:owp|node bin\/owp\.js|bin\/owp\.js)\s+([^#;&|)`\n]*)/g)) {
          // quoted arguments (`--exec "my-agent --task ..."`) are values, not owp's flags
          const argv = m[1]!.replace(/"(?:[^"\\]|\\.)*"|'[^']*'/g, 'VALUE').trim().split(/\s+/).filter(Boolean);
          if (argv.length === 0 || /^[A-Z]/.test(argv[0]!) || /^["'<]/.test(argv[0]!)) continue; // prose such as `owp <command>` or "owp CLI"
          if (argv.slice(0, 2).some((w) => w.endsWith(':'))) continue; // what owp prints (`owp worker: leased ...`), not a command line
          found.push({ doc, line: code.trim(), argv });
        }
      }
    }
    return found;
  }

  it('finds the documented command lines (the extraction works)', () => {
    const all = invocations();
    expect(all.length).toBeGreaterThan(100);
    expect(all.some((i) => i.argv.join(' ').startsWith('worker run --tool claude'))).toBe(true);
  });

  it('each names a real command and only flags that command or the global options accept', () => {
    const wrong: string[] = [];
    for (const { doc, line, argv } of invocations()) {
      if (argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h' || argv[0] === '--version') continue;
      const { command, words } = resolveCommand(argv);
      if (!command) {
        // `owp token` or `owp worker` alone names a group (its help lists the subcommands)
        if (words.length === 1 && COMMANDS.some((c) => c.name.startsWith(words[0] + ' ')) && argv.length === 1) continue;
        wrong.push(`${doc}: unknown command in "${line}"`);
        continue;
      }
      const known = flagsOf(command);
      for (const a of argv) {
        const flag = /^--[a-z][a-z0-9-]*/.exec(a)?.[0];
        if (flag && !known.has(flag) && !(flag.startsWith('--no-') && known.has(`--${flag.slice(5)}`))) {
          wrong.push(`${doc}: "owp ${command.name}" has no ${flag} (in "${line}")`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('paths and module names in the docs', () => {
  const TOP = ['server/', 'shared/', 'plugin/', 'test/', 'scripts/', 'bench/', 'examples/', 'docs/', 'bin/', 'deploy/', 'vault-template/', '.ci/'];
  /** Areas used as examples of the overlap rule, not paths of this repository. */
  const EXAMPLES = new Set(['docs/api/']);
  const exists = (p: string) => {
    const q = p.replace(/[#:].*$/, '');
    if (q.includes('*')) return FILES.some((f) => globRe(q).test(f) || globRe(q).test(f.replace(/\/$/, '')));
    return existsSync(join(ROOT, q));
  };

  it('every repository path a doc cites exists', () => {
    const missing: string[] = [];
    for (const doc of DOCS) {
      for (const code of codeOf(doc)) {
        for (const tok of code.split(/[\s,()]+/)) {
          const p = tok.replace(/^["'`]+|["'`.;:]+$/g, '');
          if (!TOP.some((t) => p.startsWith(t)) || EXAMPLES.has(p) || /[<>{}$]/.test(p)) continue;
          if (!exists(p)) missing.push(`${doc}: ${p}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('every source module named by its file name alone (`engine.ts`) is a file somewhere in the tree', () => {
    const names = new Set(FILES.map((f) => f.slice(f.lastIndexOf('/') + 1)));
    const missing: string[] = [];
    for (const doc of DOCS) {
      for (const code of codeOf(doc)) {
        const m = /^([\w.*-]+\.(?:ts|mjs))$/.exec(code.trim());
        if (m && ![...names].some((n) => globRe(m[1]!).test(n))) missing.push(`${doc}: ${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('docs/ARCHITECTURE.md names every folder of server/, shared/ and plugin/', () => {
    const arch = read('docs/ARCHITECTURE.md');
    const folders = FILES.filter((f) => /^(server|shared|plugin)\/[^/]+\/$/.test(f)).map((f) => f.slice(0, -1));
    expect(folders.length).toBeGreaterThan(20);
    // named as a path (`server/sync/`, `server/store`), or as a sub-folder in its parent's row (`mirror/`)
    const named = (f: string) => arch.includes(`\`${f}`) || arch.includes(` ${f} `) || arch.includes(`\`${f.slice(f.indexOf('/') + 1)}/\``) || arch.includes(`, ${f}`);
    expect(folders.filter((f) => !named(f)), 'say in docs/ARCHITECTURE.md (Folders) what these folders hold').toEqual([]);
  });

  it('every relative link resolves', () => {
    const broken: string[] = [];
    for (const doc of DOCS) {
      for (const m of read(doc).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target) || target.startsWith('#')) continue;
        const file = join(dirname(join(ROOT, doc)), target.replace(/#.*$/, ''));
        if (!existsSync(file)) broken.push(`${doc}: ${target} (${relative(ROOT, file)})`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('settings and routes in the docs', () => {
  const SOURCES = FILES.filter((f) => /^(server|shared|plugin|bin|scripts|bench|deploy)\//.test(f) || /^(Dockerfile|docker-compose.*\.yml|\.env\.example|Caddyfile)$/.test(f)).filter((f) => !f.endsWith('/'));
  const source = SOURCES.map(read).join('\n');

  it('every OWP_* variable a doc names is read or set by the code or the tests', () => {
    const tests = FILES.filter((f) => f.startsWith('test/') && f.endsWith('.ts')).map(read).join('\n');
    // misspellings CONFIG.md shows to explain the relay's "did you mean" refusal
    const TYPOS = new Set(['OWP_PROT', 'OWP_ADMIN_TOKN']);
    const known = (v: string) => TYPOS.has(v) || source.includes(v) || tests.includes(v) || (v.endsWith('_FILE') && source.includes(v.slice(0, -5)));
    const unknown = new Set<string>();
    for (const doc of DOCS) for (const m of read(doc).matchAll(/\bOWP_[A-Z0-9_]*[A-Z0-9]\b/g)) if (!known(m[0])) unknown.add(`${doc}: ${m[0]}`);
    expect([...unknown]).toEqual([]);
  });

  it('every relay route a doc names (METHOD /path) is served', () => {
    // Route patterns as the sources declare them: `path: '/api/tasks/:id'` (a `${x}` part matches any segment).
    const patterns = [...source.matchAll(/\bpath: [`'"](\/[^`'"]*)[`'"]/g)].map((m) => m[1]!.split('/').map((s) => (/^[:{]|\$\{/.test(s) ? '*' : s)));
    expect(patterns.length).toBeGreaterThan(30);
    const served = (path: string, ellipsis: boolean) => {
      const segs = path.split('/');
      return patterns.some((p) => (ellipsis ? p.length > segs.length : p.length === segs.length) && p.slice(0, segs.length).every((s, i) => s === '*' || s === segs[i] || /^[:<{A-Z]/.test(segs[i]!)));
    };
    const unknown: string[] = [];
    for (const doc of DOCS) {
      for (const m of read(doc).matchAll(/\b(?:GET|POST|PUT|PATCH|DELETE|HEAD) (\/(?:api|healthz|readyz|metrics)[^\s`)|,;?]*)/g)) {
        const path = m[1]!.replace(/\/(\.\.\.)?$/, ''); // `PUT /api/repos/...`: a route under that prefix
        if (!served(path, m[1]!.endsWith('/...'))) unknown.push(`${doc}: ${m[0]}`);
      }
    }
    expect(unknown).toEqual([]);
  });
});
