// esbuild plugins for the Obsidian build (used by esbuild.config.mjs and the build test).
import { builtinModules, createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(import.meta.url);
const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** Refuse Node built-ins, except gray-matter's `fs` (only its unused matter.read needs it). */
export const noNodeBuiltins = {
  name: 'no-node-builtins',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (!NODE_BUILTINS.has(args.path)) return undefined;
      const importer = args.importer.split(path.sep).join('/');
      if (args.path === 'fs' && importer.endsWith('/node_modules/gray-matter/index.js')) {
        return { path: path.join(here, 'empty-fs.js') };
      }
      return {
        errors: [{ text: `Node built-in "${args.path}" imported by ${args.importer}: the plugin must run without Node (Obsidian mobile).` }],
      };
    });
  },
};

/** Resolve every import of yjs to one file, so exactly one copy is bundled. */
export const oneYjs = {
  name: 'one-yjs',
  setup(build) {
    const cjs = require.resolve('yjs');
    const esm = cjs.replace(/yjs\.cjs$/, 'yjs.mjs');
    const target = fs.existsSync(esm) ? esm : cjs;
    build.onResolve({ filter: /^yjs$/ }, () => ({ path: target }));
  },
};
