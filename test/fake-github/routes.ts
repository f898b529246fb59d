/**
 * The endpoints of the fake GitHub (see server.ts): issues, comments, labels, pulls and
 * reviews, with GitHub's pagination (per_page, page, Link) and filters (labels, state,
 * since, sort, direction).
 *
 * Invariant: answers have the shape of GitHub's REST API for the fields OWP Pool reads.
 */
import type { FakeComment, FakeIssue, RepoState } from './server.js';

export type Send = (status: number, body: unknown, extra?: Record<string, string>) => void;

/** What the routes need from the fake's state. */
export interface FakeInternals {
  url: string;
  login: string;
  repos: Map<string, RepoState>;
  repo(full: string): RepoState;
  issue(repo: string, n: number): FakeIssue;
  tick(): string;
  nextId(): number;
}

function issueJson(gh: FakeInternals, repo: string, i: FakeIssue): Record<string, unknown> {
  const base = `https://github.com/${repo}`;
  const out: Record<string, unknown> = {
    id: i.number + 500000,
    number: i.number,
    title: i.title,
    body: i.body,
    state: i.state,
    labels: i.labels.map((name) => ({ name })),
    created_at: i.created_at,
    updated_at: i.updated_at,
    closed_at: i.closed_at,
    html_url: `${base}/${i.isPr ? 'pull' : 'issues'}/${i.number}`,
    user: { login: 'someone' },
  };
  if (i.isPr) {
    const p = gh.repo(repo).pulls.get(i.number)!;
    out.pull_request = { url: `${gh.url}/repos/${repo}/pulls/${i.number}`, html_url: `${base}/pull/${i.number}`, merged_at: p.merged_at };
  }
  return out;
}

function pullJson(gh: FakeInternals, repo: string, n: number): Record<string, unknown> {
  const i = gh.issue(repo, n);
  const p = gh.repo(repo).pulls.get(n)!;
  return {
    number: n, title: i.title, body: i.body, state: i.state, merged: p.merged, merged_at: p.merged_at,
    closed_at: i.closed_at, created_at: i.created_at, updated_at: i.updated_at,
    html_url: `https://github.com/${repo}/pull/${n}`, head: { ref: p.head, label: `${p.headOwner ?? repo.split('/')[0]}:${p.head}` },
    base: { ref: p.base ?? 'main' }, draft: p.draft ?? false, user: { login: p.user ?? 'someone' },
  };
}

function paginate<T>(url: URL, items: T[], send: Send): void {
  const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30) || 30));
  const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const link = (p: number, rel: string): string => {
    const u = new URL(url.toString());
    u.searchParams.set('page', String(p));
    u.searchParams.set('per_page', String(perPage));
    return `<${u.toString()}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
  if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'));
  send(200, slice, links.length ? { link: links.join(', ') } : {});
}

export function routeRequest(gh: FakeInternals, method: string, url: URL, reqBody: string, send: Send): void {
  const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(url.pathname);
  if (!m) return send(404, { message: 'Not Found' });
  const repo = `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`;
  const rest = m[3] ?? '';
  const r = gh.repos.get(repo.toLowerCase());
  if (!r) return send(404, { message: 'Not Found' });
  let mm: RegExpExecArray | null;

  if (method === 'GET' && rest === '/issues') {
    const state = url.searchParams.get('state') ?? 'open';
    const labels = (url.searchParams.get('labels') ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const since = url.searchParams.get('since');
    const sort = url.searchParams.get('sort') ?? 'created';
    const dir = url.searchParams.get('direction') ?? 'desc';
    let items = [...r.issues.values()].filter((i) => (state === 'all' || i.state === state)
      && labels.every((l) => i.labels.some((x) => x.toLowerCase() === l))
      && (!since || i.updated_at >= since));
    const key = sort === 'updated' ? 'updated_at' : 'created_at';
    items = items.sort((a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : a.number - b.number) * (dir === 'asc' ? 1 : -1));
    return paginate(url, items.map((i) => issueJson(gh, repo, i)), send);
  }
  if ((mm = /^\/issues\/(\d+)$/.exec(rest)) && method === 'GET') {
    const i = r.issues.get(Number(mm[1]));
    return i ? send(200, issueJson(gh, repo, i)) : send(404, { message: 'Not Found' });
  }
  if ((mm = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
    const n = Number(mm[1]);
    if (!r.issues.has(n)) return send(404, { message: 'Not Found' });
    const list = r.comments.get(n) ?? [];
    if (method === 'GET') return paginate(url, list, send);
    if (method === 'POST') {
      const body = JSON.parse(reqBody || '{}') as { body?: string };
      if (typeof body.body !== 'string' || !body.body) return send(422, { message: 'Validation Failed' });
      const t = gh.tick();
      const c: FakeComment = { id: gh.nextId(), body: body.body, user: { login: gh.login }, created_at: t, updated_at: t };
      list.push(c);
      r.comments.set(n, list);
      r.issues.get(n)!.updated_at = t;
      return send(201, c);
    }
  }
  if ((mm = /^\/issues\/(\d+)\/labels$/.exec(rest)) && method === 'POST') {
    const i = r.issues.get(Number(mm[1]));
    if (!i) return send(404, { message: 'Not Found' });
    const body = JSON.parse(reqBody || '{}') as { labels?: string[] };
    for (const l of body.labels ?? []) if (!i.labels.some((x) => x.toLowerCase() === l.toLowerCase())) i.labels.push(l);
    i.updated_at = gh.tick();
    return send(200, i.labels.map((name) => ({ name })));
  }
  if ((mm = /^\/issues\/(\d+)\/labels\/(.+)$/.exec(rest)) && method === 'DELETE') {
    const i = r.issues.get(Number(mm[1]));
    if (!i) return send(404, { message: 'Not Found' });
    const name = decodeURIComponent(mm[2]!);
    const before = i.labels.length;
    i.labels = i.labels.filter((x) => x.toLowerCase() !== name.toLowerCase());
    if (i.labels.length === before) return send(404, { message: 'Label does not exist' });
    i.updated_at = gh.tick();
    return send(200, i.labels.map((n) => ({ name: n })));
  }
  if (method === 'POST' && rest === '/pulls') {
    return createPull(gh, repo, r, reqBody, send);
  }
  if (method === 'GET' && rest === '/pulls') {
    const state = url.searchParams.get('state') ?? 'open';
    const head = url.searchParams.get('head');
    const owner = repo.split('/')[0]!;
    const items = [...r.pulls.keys()].map((n) => r.issues.get(n)!).filter((i) => state === 'all' || i.state === state)
      .filter((i) => !head || `${r.pulls.get(i.number)!.headOwner ?? owner}:${r.pulls.get(i.number)!.head}`.toLowerCase() === head.toLowerCase())
      .sort((a, b) => b.number - a.number);
    return paginate(url, items.map((i) => pullJson(gh, repo, i.number)), send);
  }
  if ((mm = /^\/pulls\/(\d+)$/.exec(rest)) && method === 'GET') {
    const n = Number(mm[1]);
    return r.pulls.has(n) ? send(200, pullJson(gh, repo, n)) : send(404, { message: 'Not Found' });
  }
  if ((mm = /^\/pulls\/(\d+)\/comments$/.exec(rest)) && method === 'GET') {
    const n = Number(mm[1]);
    if (!r.pulls.has(n)) return send(404, { message: 'Not Found' });
    return paginate(url, r.reviewComments.get(n) ?? [], send);
  }
  if ((mm = /^\/pulls\/(\d+)\/reviews$/.exec(rest)) && method === 'GET') {
    const n = Number(mm[1]);
    if (!r.pulls.has(n)) return send(404, { message: 'Not Found' });
    return paginate(url, r.reviews.get(n) ?? [], send);
  }
  return send(404, { message: 'Not Found' });
}

/**
 * POST /repos/{owner}/{repo}/pulls: title, head (`branch` or `owner:branch`), base required;
 * 422 when an open pull request already has that head, as GitHub answers.
 */
function createPull(gh: FakeInternals, repo: string, r: RepoState, reqBody: string, send: Send): void {
  let b: { title?: unknown; head?: unknown; base?: unknown; body?: unknown; draft?: unknown };
  try {
    b = JSON.parse(reqBody || '{}') as typeof b;
  } catch {
    return send(400, { message: 'Problems parsing JSON' });
  }
  if (typeof b.title !== 'string' || !b.title || typeof b.head !== 'string' || !b.head || typeof b.base !== 'string' || !b.base) {
    return send(422, { message: 'Validation Failed', errors: [{ resource: 'PullRequest', code: 'missing_field' }] });
  }
  const [headOwner, head] = b.head.includes(':') ? (b.head.split(':', 2) as [string, string]) : [repo.split('/')[0]!, b.head];
  for (const p of r.pulls.values()) {
    if (r.issues.get(p.number)!.state === 'open' && p.head === head && (p.headOwner ?? repo.split('/')[0]) === headOwner) {
      return send(422, { message: 'Validation Failed', errors: [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${headOwner}:${head}.` }] });
    }
  }
  const number = r.next++;
  const t = gh.tick();
  r.issues.set(number, { number, title: b.title, body: typeof b.body === 'string' ? b.body : null, state: 'open', labels: [], created_at: t, updated_at: t, closed_at: null, isPr: true });
  r.pulls.set(number, { number, merged: false, merged_at: null, head, headOwner, base: b.base, draft: b.draft === true, user: gh.login });
  r.reviews.set(number, []);
  return send(201, pullJson(gh, repo, number));
}
