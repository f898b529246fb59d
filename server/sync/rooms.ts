/**
 * Rooms: one per open Yjs document, holding the document (from the DocStore), its awareness
 * and the peers that joined it; they apply what peers send and broadcast what changes.
 *
 * Invariants:
 * - A sync step 2 or update from a peer that may not write is never applied, persisted or
 *   broadcast: if it changes nothing (Y.snapshotContainsUpdate) it is ignored, otherwise
 *   `receive` answers with a refusal (4403) and the caller closes the socket.
 * - Write before broadcast: an applied update reaches the other peers only once the DocStore
 *   has it on disk, in order; the answer to a sync step 1 waits the same way. Updates one
 *   write covers (the DocStore's group commit: the same `whenPersisted` promise) go out as
 *   one merged message, encoded once for every peer; a peer never gets its own update back.
 * - Awareness is relayed, never persisted. A clientID belongs to the first peer that
 *   announced it (at most MAX_AWARENESS_CLIENTS_PER_SOCKET each); a state naming another
 *   worker's id is dropped; a peer's states are removed when it leaves.
 * - Presence without content is not fanned out: an empty state (`{}`, what y-protocols
 *   publishes for a client that sets nothing, e.g. every read-only ledger viewer) for a
 *   client id the room holds no state of is neither applied nor broadcast; it is echoed to
 *   its sender alone (y-websocket drops a connection that hears nothing for 30 s). Relaying
 *   it cost N x N messages every 15 s: 1,000 viewers of the ledger were a million messages.
 * - A rotated document (./rotation.ts): its room is dropped at the swap and every peer that
 *   was sent content of it (a sync step 2 or an update) is closed with `CLOSE.docReset`; a
 *   peer sent none yet (a client still waiting for its step 2) holds no stale copy and is
 *   closed with `CLOSE.docRenewed`, after which any client (stock y-websocket too) reconnects
 *   and syncs the new generation. A retired room sends nothing more. A peer whose sync step 1
 *   (or update) names a client id of an older generation is closed with `CLOSE.docReset`
 *   before anything of the doc reaches it.
 * - Rooms know nothing of sockets: a peer is something that can be sent bytes (and closed).
 */
import * as decoding from 'lib0/decoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { CLOSE, docRenewedReason, docResetReason } from '../../shared/protocol.js';
import type { Logger, Principal } from '../ports.js';
import { writeDeniedReason } from './acl.js';
import { type AwarenessEntry, AwarenessStateTooLarge, awarenessStateAllowed, decodeAwarenessUpdate, encodeAwarenessEntries, MAX_AWARENESS_STATE_BYTES } from './awareness.js';
import type { DocStore } from './docstore.js';
import { outgoing, type Outgoing } from './frame.js';
import { awarenessMessage, rawAwarenessMessage, MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC, syncStep1Message, syncStep2Message, updateMessage } from './messages.js';

/** Awareness client ids one socket may own; more are ignored. */
export const MAX_AWARENESS_CLIENTS_PER_SOCKET = 8;

/** `{}` or `null`: a state that tells the other peers nothing. */
const isEmptyState = (state: unknown): boolean =>
  state === null || (typeof state === 'object' && !Array.isArray(state) && Object.keys(state as object).length === 0);

/** One member of a room (a socket, seen from the room). */
export interface Peer {
  readonly principal: Principal;
  readonly docName: string;
  readonly writable: boolean;
  /** Awareness client ids this peer announced first (it owns them). */
  readonly clientIds: Set<number>;
  /** One message, framed by the room once for every peer it goes to (./frame.ts). */
  send(msg: Outgoing): void;
  close?(code: number, reason: string): void;
}

/** Why a peer must be closed: a close code and a reason a person can act on. */
export interface Refusal {
  code: number;
  reason: string;
}

interface UnsentUpdate {
  update: Uint8Array;
  origin: unknown;
}
interface UnsentGroup {
  persisted: Promise<void>;
  updates: UnsentUpdate[];
}

/** Every awareness state a peer publishes (after the workerId check). */
export type AwarenessListener = (principal: Principal, docName: string, state: Record<string, unknown>) => void;

export class Room {
  readonly awareness: awarenessProtocol.Awareness;
  readonly peers = new Set<Peer>();
  /** Set when the doc was rotated: a peer still joining is closed instead, and nothing more is sent. */
  retired = false;
  private readonly owners = new Map<number, Peer>();
  /** Peers sent content of this generation (a step 2 or an update): their copy is stale once it is retired. */
  private readonly fed = new WeakSet<Peer>();
  /** Updates applied but waiting for their write; the last group takes what the same write covers. */
  private unsent: UnsentGroup | undefined;

  constructor(
    readonly name: string,
    readonly doc: Y.Doc,
    private readonly docs: DocStore,
    private readonly onAwareness?: AwarenessListener,
    private readonly log?: Logger,
  ) {
    this.awareness = new awarenessProtocol.Awareness(doc);
    this.awareness.setLocalState(null);
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      // Registered after DocStore's own listener, so this update is in the chain already.
      const persisted = docs.whenPersisted(name);
      const last = this.unsent;
      if (last?.persisted === persisted) {
        // The same write covers it (group commit): one message for the group.
        last.updates.push({ update, origin });
        return;
      }
      const group: UnsentGroup = { persisted, updates: [{ update, origin }] };
      this.unsent = group;
      void persisted.then(() => {
        if (this.unsent === group) this.unsent = undefined;
        this.broadcast(group.updates);
      });
    });
    this.awareness.on('update', ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }) => {
      if (this.peers.size === 0) return;
      const out = outgoing(awarenessMessage(this.awareness, added.concat(updated, removed)));
      for (const p of this.peers) p.send(out);
    });
  }

  /**
   * Send updates now on disk to every peer, in one message: the same bytes (framed once) to
   * every peer that wrote none of them; a peer that wrote some gets the others' only.
   */
  private broadcast(updates: UnsentUpdate[]): void {
    if (this.peers.size === 0 || this.retired) return;
    const merged = (list: UnsentUpdate[]) => outgoing(updateMessage(list.length === 1 ? list[0]!.update : Y.mergeUpdates(list.map((u) => u.update))));
    const msg = merged(updates);
    const writers = new Set<Peer>();
    for (const u of updates) if (this.peers.has(u.origin as Peer)) writers.add(u.origin as Peer);
    for (const p of this.peers) if (!writers.has(p)) this.feed(p, msg);
    for (const p of writers) {
      const others = updates.filter((u) => u.origin !== p);
      if (others.length > 0) this.feed(p, merged(others));
    }
  }

  /** Send content of the doc to a peer (from now on its copy is of this generation). */
  private feed(peer: Peer, msg: Outgoing): void {
    this.fed.add(peer);
    peer.send(msg);
  }

  /** Whether this peer was sent content of the doc (else it holds nothing a rotation makes stale). */
  wasFed(peer: Peer): boolean {
    return this.fed.has(peer);
  }

  /** Add a peer and greet it: sync step 1, then the awareness states known so far. */
  join(peer: Peer): void {
    if (this.retired) return peer.close?.(this.renewed().code, this.renewed().reason);
    this.peers.add(peer);
    peer.send(outgoing(syncStep1Message(this.doc)));
    const states = this.awareness.getStates();
    if (states.size > 0) peer.send(outgoing(awarenessMessage(this.awareness, [...states.keys()])));
  }

  /** Remove a peer and the awareness states it owns. */
  leave(peer: Peer): void {
    if (!this.peers.delete(peer)) return;
    const ids = [...peer.clientIds].filter((id) => this.owners.get(id) === peer);
    for (const id of ids) this.owners.delete(id);
    if (ids.length > 0) awarenessProtocol.removeAwarenessStates(this.awareness, ids, peer);
  }

  /** Handle one y-websocket message from a peer; a refusal means: close it with that code. */
  receive(peer: Peer, bytes: Uint8Array): Refusal | undefined {
    try {
      const d = decoding.createDecoder(bytes);
      const type = decoding.readVarUint(d);
      if (type === MESSAGE_SYNC) return this.sync(peer, d);
      if (type === MESSAGE_AWARENESS) this.publish(peer, decoding.readVarUint8Array(d));
      else if (type === MESSAGE_QUERY_AWARENESS) peer.send(outgoing(awarenessMessage(this.awareness, [...this.awareness.getStates().keys()])));
      // MESSAGE_AUTH and unknown types from clients: nothing to do.
      return undefined;
    } catch (err) {
      if (err instanceof AwarenessStateTooLarge) {
        return { code: CLOSE.tooLarge, reason: `payload-too-large: an awareness state over ${MAX_AWARENESS_STATE_BYTES / 1024} KiB; publish less` };
      }
      this.log?.warn('malformed sync message', { doc: this.name, err: String(err) });
      return { code: CLOSE.malformed, reason: 'invalid-field: malformed y-websocket message; update your client' };
    }
  }

  private sync(peer: Peer, d: decoding.Decoder): Refusal | undefined {
    const type = decoding.readVarUint(d);
    if (type === syncProtocol.messageYjsSyncStep1) {
      const sv = decoding.readVarUint8Array(d);
      if (this.docs.staleClients(this.name, sv).length > 0) return this.reset();
      // Answer once what the doc holds is on disk: nobody reads what a crash could take back.
      // A room retired meanwhile sends nothing: its peers are being closed (see Rooms.retire).
      void this.docs.whenPersisted(this.name).then(() => {
        if (!this.retired) this.feed(peer, outgoing(syncStep2Message(this.doc, sv)));
      });
      return undefined;
    }
    if (type !== syncProtocol.messageYjsSyncStep2 && type !== syncProtocol.messageYjsUpdate) {
      throw new Error(`unknown sync message type ${type}`);
    }
    const update = decoding.readVarUint8Array(d);
    if (this.docs.generation(this.name) > 0 && this.docs.staleClients(this.name, Y.parseUpdateMeta(update).from).length > 0) return this.reset();
    if (peer.writable) {
      Y.applyUpdate(this.doc, update, peer);
      return undefined;
    }
    // Read-only: an update that changes nothing is not a write (a viewer's step 2 on connect).
    if (Y.snapshotContainsUpdate(Y.snapshot(this.doc), update)) return undefined;
    this.log?.warn('refused a write to a document', { doc: this.name, role: peer.principal.role, tokenId: peer.principal.tokenId });
    return { code: CLOSE.forbidden, reason: writeDeniedReason(peer.principal, this.name) };
  }

  /** The refusal of a copy from an older generation of this doc. */
  reset(): Refusal {
    return { code: CLOSE.docReset, reason: docResetReason(this.name, this.docs.generation(this.name)) };
  }

  /** The close of a peer sent nothing of a generation that was just retired: reconnect. */
  renewed(): Refusal {
    return { code: CLOSE.docRenewed, reason: docRenewedReason(this.name, this.docs.generation(this.name)) };
  }

  private publish(peer: Peer, raw: Uint8Array): void {
    const entries = decodeAwarenessUpdate(raw);
    const echoed: AwarenessEntry[] = [];
    const kept = entries.filter((x) => {
      const owner = this.owners.get(x.clientID);
      if (owner === undefined && isEmptyState(x.state)) {
        // Nothing to tell the others (and a leave of a state never held removes nothing).
        if (x.state !== null) echoed.push(x);
        return false;
      }
      if (owner !== undefined && owner !== peer) return false;
      if (owner === undefined && x.state !== null) {
        // A socket is one client (a few after reloads); a flood of ids is dropped.
        if (peer.clientIds.size >= MAX_AWARENESS_CLIENTS_PER_SOCKET) return false;
        if (!awarenessStateAllowed(peer.principal, x.state)) return false;
        this.owners.set(x.clientID, peer);
        peer.clientIds.add(x.clientID);
        return true;
      }
      return awarenessStateAllowed(peer.principal, x.state);
    });
    if (echoed.length > 0) peer.send(outgoing(rawAwarenessMessage(encodeAwarenessEntries(echoed))));
    if (echoed.length > 0) this.notify(peer, {});
    if (kept.length === 0) return;
    awarenessProtocol.applyAwarenessUpdate(this.awareness, kept.length === entries.length ? raw : encodeAwarenessEntries(kept), peer);
    if (!this.onAwareness) return;
    for (const x of kept) {
      if (x.state === null || typeof x.state !== 'object' || Array.isArray(x.state)) continue;
      this.notify(peer, x.state as Record<string, unknown>);
    }
  }

  private notify(peer: Peer, state: Record<string, unknown>): void {
    try {
      this.onAwareness?.(peer.principal, this.name, state);
    } catch (err) {
      this.log?.error('awareness listener failed', { doc: this.name, err: String(err) });
    }
  }
}

/** The open rooms, each loaded once from the DocStore. */
export class Rooms {
  private readonly loading = new Map<string, Promise<Room>>();
  private readonly open = new Map<string, Room>();

  constructor(
    private readonly docs: DocStore,
    private readonly onAwareness?: AwarenessListener,
    private readonly log?: Logger,
  ) {
    docs.onRotate((name) => this.retire(name));
  }

  /** A document was rotated: close its room's peers (reset: their copies are stale; renewed: they had none) and drop the room. */
  private retire(name: string): void {
    const room = this.open.get(name);
    this.open.delete(name);
    this.loading.delete(name);
    if (!room) return;
    room.retired = true;
    for (const p of [...room.peers]) {
      const { code, reason } = room.wasFed(p) ? room.reset() : room.renewed();
      room.leave(p);
      p.close?.(code, reason);
    }
    room.awareness.destroy();
  }

  /** The room of a document, loading it on first use (a failed load is retried next time). */
  get(name: string): Promise<Room> {
    let p = this.loading.get(name);
    if (!p) {
      p = this.docs.get(name).then((doc) => {
        const room = new Room(name, doc, this.docs, this.onAwareness, this.log);
        this.open.set(name, room);
        return room;
      });
      this.loading.set(name, p);
      p.catch(() => this.loading.delete(name));
    }
    return p;
  }

  /** A room already open, if any. */
  opened(name: string): Room | undefined {
    return this.open.get(name);
  }

  /** Stop every room's awareness (peers are gone by then). The documents stay in the DocStore. */
  async close(): Promise<void> {
    for (const p of this.loading.values()) {
      try {
        (await p).awareness.destroy();
      } catch {
        // a room that failed to load has nothing to destroy
      }
    }
    this.loading.clear();
    this.open.clear();
  }
}
