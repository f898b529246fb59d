/**
 * The mirror's batches (plugin/mirror/batches.ts): plans that run together never touch one
 * note path; the later one waits for the next batch.
 */
import { describe, expect, it } from 'vitest';
import { admit, touchedPaths, type Planned } from '../../plugin/mirror/batches.js';

const create = (id: string, path: string): Planned => ({ id, effects: [{ kind: 'create', path, text: id }, { kind: 'index', taskId: id, path }] });

describe('mirror batches', () => {
  it('names the paths a plan creates, writes or moves, and nothing else', () => {
    expect(touchedPaths([{ kind: 'write', path: 'a.md', expected: '', next: 'x' }, { kind: 'move', from: 'a.md', to: 'b.md' }, { kind: 'index', taskId: 't', path: 'c.md' }, { kind: 'notice', message: 'm' }])).toEqual(['a.md', 'a.md', 'b.md']);
  });

  it('runs plans on different paths together and defers a second plan on a path taken in the batch', () => {
    const { run, later } = admit([create('o/r#1', 'T/1 Same.md'), create('o/r#2', 'T/2 Other.md'), create('o/r#3', 'T/1 Same.md'), { id: 'o/r#4', effects: [{ kind: 'move', from: 'T/x.md', to: 'T/2 Other.md' }] }, { id: 'o/r#5', effects: [{ kind: 'retry' }] }]);
    expect(run.map((p) => p.id)).toEqual(['o/r#1', 'o/r#2', 'o/r#5']);
    expect(later).toEqual(['o/r#3', 'o/r#4']);
  });
});
