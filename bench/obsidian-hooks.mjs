/** Module resolve hook (registered by bench/obsidian-alias.mjs): `obsidian` -> test/obsidian. */
const DOUBLE = new URL('../test/obsidian/index.ts', import.meta.url).href;

export async function resolve(specifier, context, next) {
  return next(specifier === 'obsidian' ? DOUBLE : specifier, context);
}
