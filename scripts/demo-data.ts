/**
 * Sample repos, workers and tasks for `npm run demo`.
 *
 * Invariants: every value passes the model's validation (repo names owner/name, skills in
 * lower case, tiers 0..3, relative areas); task ids are unique per start number.
 */

export const DEMO_REPOS = [
  { repo: 'demo/app', reviewBudget: 6, allowedTiers: [0, 1, 2], maxAttempts: 3, cooldownMs: 5000, dailyQuota: 1000, frozenAreas: ['src/billing/'] },
  { repo: 'demo/docs', reviewBudget: 4, allowedTiers: [0, 1], maxAttempts: 3, cooldownMs: 5000, dailyQuota: 1000, frozenAreas: [] as string[] },
];

export const DEMO_WORKERS = [
  { id: 'ada', name: 'Ada (Claude Code)', skills: ['ts', 'react', 'docs', 'tests'], capacity: 6, maxConcurrent: 2, trust: 2 },
  { id: 'linus', name: 'Linus (Codex)', skills: ['ts', 'node', 'tests'], capacity: 5, maxConcurrent: 2, trust: 1 },
  { id: 'grace', name: 'Grace (Aider)', skills: ['docs', 'css', 'react'], capacity: 4, maxConcurrent: 1, trust: 1 },
  { id: 'ken', name: 'Ken (Cursor)', skills: ['node', 'sql', 'ts'], capacity: 5, maxConcurrent: 2, trust: 2 },
  { id: 'barbara', name: 'Barbara (Goose)', skills: ['tests', 'ts', 'docs'], capacity: 3, maxConcurrent: 1, trust: 0 },
  { id: 'margaret', name: 'Margaret (OpenHands)', skills: ['sql', 'node', 'docs', 'ts'], capacity: 6, maxConcurrent: 2, trust: 1 },
  { id: 'dennis', name: 'Dennis (Claude Code)', skills: ['ts', 'css', 'react', 'tests'], capacity: 4, maxConcurrent: 1, trust: 1 },
  { id: 'frances', name: 'Frances (Codex)', skills: ['docs', 'node'], capacity: 3, maxConcurrent: 1, trust: 0 },
];

const TEMPLATES: { title: string; repo: string; skills: string[]; area: string; tier: 0 | 1 | 2 }[] = [
  { title: 'Fix typo in the getting-started guide', repo: 'demo/docs', skills: ['docs'], area: 'guide/', tier: 0 },
  { title: 'Document the config file options', repo: 'demo/docs', skills: ['docs'], area: 'reference/', tier: 0 },
  { title: 'Add a FAQ entry about proxies', repo: 'demo/docs', skills: ['docs'], area: 'faq/', tier: 0 },
  { title: 'Explain the plugin API with an example', repo: 'demo/docs', skills: ['docs', 'ts'], area: 'api/', tier: 1 },
  { title: 'Dark mode for the settings page', repo: 'demo/app', skills: ['css', 'react'], area: 'src/ui/settings/', tier: 0 },
  { title: 'Keyboard shortcut for search', repo: 'demo/app', skills: ['react', 'ts'], area: 'src/ui/search/', tier: 1 },
  { title: 'Unit tests for the date parser', repo: 'demo/app', skills: ['tests', 'ts'], area: 'src/parse/', tier: 0 },
  { title: 'Paginate the /users endpoint', repo: 'demo/app', skills: ['node', 'sql'], area: 'src/api/users/', tier: 1 },
  { title: 'Index the events table by created_at', repo: 'demo/app', skills: ['sql'], area: 'db/migrations/', tier: 2 },
  { title: 'Retry failed webhook deliveries', repo: 'demo/app', skills: ['node', 'ts'], area: 'src/webhooks/', tier: 1 },
  { title: 'Flaky test: login redirect', repo: 'demo/app', skills: ['tests'], area: 'test/e2e/', tier: 0 },
  { title: 'Round invoice totals correctly', repo: 'demo/app', skills: ['ts'], area: 'src/billing/', tier: 2 },
  { title: 'Upgrade the bundler config', repo: 'demo/app', skills: ['node', 'ts'], area: 'build/', tier: 1 },
  { title: 'Empty state for the project list', repo: 'demo/app', skills: ['react', 'css'], area: 'src/ui/projects/', tier: 0 },
  { title: 'Rewrite the rate limiter in Rust', repo: 'demo/app', skills: ['rust'], area: 'src/limits/', tier: 2 },
];

/** Tasks no demo worker can ever take: a skill nobody has, or an area under a freeze. */
export function isBlocked(task: { skills?: string[]; area?: string }): boolean {
  return (task.skills ?? []).includes('rust') || (task.area ?? '').startsWith('src/billing/');
}

/** `count` tasks numbered from `start`, drawn from the templates with the given PRNG. */
export function demoTasks(rand: () => number, now: number, count: number, start: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const t = TEMPLATES[Math.floor(rand() * TEMPLATES.length)]!;
    const n = start + i;
    out.push({
      id: `${t.repo}#${n}`,
      repo: t.repo,
      issueNumber: n,
      issueUrl: `https://github.com/${t.repo}/issues/${n}`,
      title: `${t.title} (#${n})`,
      body: 'A sample task made by the OWP demo.',
      points: 1 + Math.floor(rand() * 3),
      skills: t.skills,
      tier: t.tier,
      // A sub-area per task so area locks do not serialise the whole demo.
      area: `${t.area}${n}/`,
      priority: Math.floor(rand() * 5) - 1,
      labels: ['demo'],
      createdAt: now,
      source: 'api',
    });
  }
  return out;
}
