/**
 * For benches that load the Obsidian plugin outside vitest: the `obsidian` package exists
 * only inside Obsidian, so it resolves to the test double (test/obsidian), as vitest's
 * `vi.mock('obsidian', ...)` does in the tests. `node --import tsx --import ./bench/obsidian-alias.mjs`.
 */
import { register } from 'node:module';

register('./obsidian-hooks.mjs', import.meta.url);
