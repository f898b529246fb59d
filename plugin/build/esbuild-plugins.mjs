// esbuild plugins for the Obsidian build (used by esbuild.config.mjs and the build test).
import { builtinModules, createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** Refuse Node built-ins: the plugin must run on Obsidian mobile. */
export const noNodeBuiltins = {
  name: 'no-node-builtins',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (!NODE_BUILTINS.has(args.path)) return undefined;
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
