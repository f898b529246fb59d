/**
 * Bundles the browser client (client/app.ts + shared/dashboard) with esbuild, once, and
 * serves the cached result; concatenates the dashboard CSS with the page CSS.
 *
 * Invariants:
 * - Built at most once per process (the promise is cached; a failed build is retried on
 *   the next request rather than cached forever).
 * - Nothing is written to disk here; the bundle lives in memory.
 * - The compiled relay (dist/) does not build: it reads dist/web/app.js and app.css, which
 *   scripts/build.ts made with these same functions (the runtime image has no esbuild).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compiled } from '../build-flags.js';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export const CLIENT_ENTRY = here('./client/app.ts');
export const CSS_FILES = [here('../../shared/dashboard/dashboard.css'), here('./page.css')];

export interface Asset {
  body: Buffer;
  etag: string;
}

async function etagOf(body: Buffer): Promise<string> {
  const { createHash } = await import('node:crypto');
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/** A file made at build time, next to the compiled relay (dist/web/NAME). */
async function prebuilt(name: string): Promise<Asset> {
  const body = await readFile(new URL(`./web/${name}`, import.meta.url));
  return { body, etag: await etagOf(body) };
}

export async function buildClient(): Promise<Asset> {
  if (compiled) return prebuilt('app.js');
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    entryPoints: [CLIENT_ENTRY],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['es2020'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const file = out.outputFiles[0];
  if (!file) throw new Error('esbuild produced no output for the dashboard client');
  const body = Buffer.from(file.contents);
  return { body, etag: await etagOf(body) };
}

export async function buildCss(): Promise<Asset> {
  if (compiled) return prebuilt('app.css');
  const parts = await Promise.all(CSS_FILES.map((f) => readFile(f)));
  const body = Buffer.concat(parts.flatMap((p) => [p, Buffer.from('\n')]));
  return { body, etag: await etagOf(body) };
}

/** Memoise an async builder; a rejected build is forgotten so the next call tries again. */
export function cached(build: () => Promise<Asset>): () => Promise<Asset> {
  let p: Promise<Asset> | undefined;
  return () => {
    if (!p) {
      p = build();
      p.catch(() => {
        p = undefined;
      });
    }
    return p;
  };
}
