/**
 * Store keys of a persisted Yjs document (./docstore.ts): `doc/<encodeURIComponent(name)>/snap`
 * (the snapshot), `.../gen` (its generation, ./rotation.ts) and `.../u/<seq zero-padded to 12>`
 * (one logged update each, `-<writer>` appended when several relays share the database).
 */
const SEQ_WIDTH = 12;
export const DOC_PREFIX = 'doc/';

/** The origin of updates read from the store or from another relay: applied, never appended again. */
export const REMOTE = 'remote';

export function docKeyPrefix(name: string): string {
  return `${DOC_PREFIX}${encodeURIComponent(name)}/`;
}
export function docSnapKey(name: string): string {
  return docKeyPrefix(name) + 'snap';
}
export function docGenKey(name: string): string {
  return docKeyPrefix(name) + 'gen';
}
/** `writer` (several relays on one database): a tag of the DocStore that wrote it, so keys never collide. */
export function docUpdateKey(name: string, seq: number, writer?: string): string {
  return docKeyPrefix(name) + 'u/' + String(seq).padStart(SEQ_WIDTH, '0') + (writer ? `-${writer}` : '');
}

/** The sequence number of an update key (with or without a writer tag). */
export function seqOf(key: string): number {
  return Number.parseInt(key.slice(key.lastIndexOf('/') + 1), 10);
}
