// Lint configuration.
// - plugin/**: eslint-plugin-obsidianmd's recommended rules (type-checked), as Obsidian's
//   plugin review expects.
// - everything else: typescript-eslint's recommended rules, plus house rules: no HTML
//   injection sinks anywhere, and shared/ imports nothing that needs Node, Obsidian, the
//   server or the plugin (the plugin bundles shared/ for mobile); only server/store/leveldb.ts
//   imports LevelDB (everything else persists through the storage port).
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';
import obsidianmd from 'eslint-plugin-obsidianmd';

/**
 * Everything esbuild bundles into main.js (test/plugin/build.test.ts checks this list against
 * the bundle's inputs): Obsidian's recommended rules apply to all of it.
 */
export const PLUGIN_FILES = [
  'plugin/**/*.ts',
  'shared/model.ts',
  'shared/defaults.ts',
  'shared/errors.ts',
  'shared/ledger.ts',
  'shared/protocol.ts',
  'shared/doc-rotation.ts',
  'shared/did-you-mean.ts',
  'shared/trust-ladder.ts',
  'shared/notes/**/*.ts',
  'shared/dashboard/**/*.ts',
];

const noHtmlSinks = {
  'no-restricted-properties': [
    'error',
    { property: 'innerHTML', message: 'Build DOM nodes and set textContent instead (no HTML injection).' },
    { property: 'outerHTML', message: 'Build DOM nodes and set textContent instead (no HTML injection).' },
    { property: 'insertAdjacentHTML', message: 'Build DOM nodes instead (no HTML injection).' },
  ],
};

export default defineConfig([
  globalIgnores([
    'node_modules/**',
    'dist/**',
    'data/**',
    'main.js',
    'owp-relay.js',
    'vault-template/**',
    'test-output/**',
    'coverage/**',
  ]),

  // Obsidian's recommended set, scoped to the plugin.
  ...obsidianmd.configs.recommended
    .filter((c) => !(Array.isArray(c.files) && c.files.includes('package.json')))
    .map((c) => ({ ...c, files: PLUGIN_FILES })),
  {
    files: PLUGIN_FILES,
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // OWP is the protocol's name: an acronym, as in every notice ("OWP: ...").
      'obsidianmd/ui/sentence-case': ['warn', { enforceCamelCaseLower: true, acronyms: ['OWP', 'PR', 'URL', 'HTTP', 'ID'] }],
    },
  },
  // manifest.json goes through the same review as the code (validate-manifest).
  {
    files: ['manifest.json'],
    languageOptions: { parser: tseslint.parser },
    plugins: { obsidianmd },
    rules: { 'obsidianmd/validate-manifest': 'error' },
  },

  // The rest of the TypeScript code.
  ...tseslint.configs.recommended.map((c) => ({
    ...c,
    files: ['shared/**/*.ts', 'server/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', '*.ts'],
  })),
  {
    files: ['**/*.ts'],
    rules: {
      ...noHtmlSinks,
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Every property takes its seed and replay report from one helper (test/helpers/fc.ts).
    files: ['test/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='fc'][callee.property.name=/^(assert|check)$/]:not([arguments.1.callee.name='fcOptions'])",
          message: 'Pass fcOptions(numRuns) from test/helpers/fc.ts: a fixed seed in npm test, a replay command on failure.',
        },
      ],
    },
  },
  {
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'shared/ must run in the plugin on mobile: no Node built-ins.' },
            { regex: '^(fs|path|os|crypto|http|https|net|child_process|stream|url|util|events)$', message: 'shared/ must not need Node.' },
            { regex: '^(ws|level|obsidian|@octokit/.*)$', message: 'shared/ must not need Node or Obsidian.' },
            { regex: '(^|/)(server|plugin)/', message: 'shared/ imports nothing from server/ or plugin/.' },
          ],
        },
      ],
    },
  },
  {
    // The storage port (docs/STORAGE.md): only a backend module may load its database driver.
    files: ['server/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'plugin/**/*.ts', '*.ts'],
    ignores: ['server/store/leveldb.ts', 'server/store/postgres*.ts', 'test/helpers/postgres.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(level|classic-level|abstract-level|memory-level)$', message: 'Persist through the Store (server/store/): only server/store/leveldb.ts imports LevelDB.' },
            { regex: '^pg(-.*)?$', message: 'Persist through the Store (server/store/): only server/store/postgres*.ts import pg.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
    rules: noHtmlSinks,
  },
]);
