/**
 * The fields of GitHub answers the relay reads, picked before they are cached in kv.
 *
 * Invariant: each shape keeps every field its reader uses (importer, PR tracker,
 * write-back) and nothing else; the readers' types are subsets of these shapes.
 */
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function shapeIssue(v: unknown) {
  const i = obj(v);
  const pr = i.pull_request ? obj(i.pull_request) : undefined;
  return {
    number: Number(i.number),
    title: str(i.title) ?? '',
    body: str(i.body) ?? null,
    state: str(i.state),
    labels: (Array.isArray(i.labels) ? i.labels : []).map((l) => ({ name: typeof l === 'string' ? l : (str(obj(l).name) ?? '') })),
    html_url: str(i.html_url),
    created_at: str(i.created_at),
    updated_at: str(i.updated_at),
    ...(pr ? { pull_request: { html_url: str(pr.html_url) } } : {}),
  };
}

export function shapePull(v: unknown) {
  const p = obj(v);
  return {
    number: Number(p.number),
    state: str(p.state) ?? 'open',
    merged: p.merged === true,
    merged_at: str(p.merged_at) ?? null,
    closed_at: str(p.closed_at) ?? null,
    updated_at: str(p.updated_at),
    html_url: str(p.html_url),
  };
}

export function shapeReview(v: unknown) {
  const r = obj(v);
  return { id: Number(r.id), user: { login: str(obj(r.user).login) }, state: str(r.state) ?? '', submitted_at: str(r.submitted_at) ?? null };
}

/** Only OWP's own markers matter in comments; other people's text is not kept. */
export function shapeComment(v: unknown) {
  const body = str(obj(v).body) ?? '';
  const markers = body.match(/<!-- owp:[^>]*-->/g) ?? [];
  return { body: markers.join('\n') };
}
