/**
 * "Did you mean ...?" for field names: the closest known name to an unknown one.
 *
 * Invariants:
 * - Pure and tiny (bundled into the plugin): an edit distance over at most a few dozen
 *   short names, written here rather than pulling a package into shared/ for 20 lines.
 * - Names are compared without case, `_` and `-`, so `task_id` and `task-id` find `taskId`.
 * - A suggestion is made only when it is close: at most a third of the longer name's
 *   letters differ (and at most 3); otherwise undefined.
 */

const fold = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');

/** Levenshtein distance with adjacent transpositions (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2][j - 2] + 1);
      d[i][j] = v;
    }
  }
  return d[a.length][b.length];
}

/** The known name closest to `word`, if one is close enough to be what was meant. */
export function closestName(word: string, known: Iterable<string>): string | undefined {
  const w = fold(word);
  let best: string | undefined;
  let bestDist = Infinity;
  for (const k of known) {
    const dist = editDistance(w, fold(k));
    const limit = Math.min(3, Math.floor(Math.max(w.length, k.length) / 3));
    if (dist <= limit && dist < bestDist) {
      best = k;
      bestDist = dist;
    }
  }
  return best;
}

/** ` (did you mean taskId?)` or the empty string. */
export function didYouMean(word: string, known: Iterable<string>): string {
  const c = closestName(word, known);
  return c === undefined ? '' : ` (did you mean ${c}?)`;
}
