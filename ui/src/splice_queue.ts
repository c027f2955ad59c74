// Sends the open note's edits to the store without ever making typing wait,
// and brings the editor level with changes merged from other devices.
//
// The editor's text is always "the store's note at `heads`, plus `sent`
// (one request in flight), plus `pending` (typed since)". Each request
// carries the heads its splices were computed at, so the store places them
// there even if a peer's change was merged in between; the answer names
// the new heads and the splices from elsewhere that the editor has not
// seen. Those arrive computed on "heads + sent"; edits typed meanwhile are
// rebased over them (CodeMirror's change-set mapping), and the remote
// splices mapped over those edits are applied to the view (see `rebase`).
//
// One request is in flight at a time and carries everything typed since
// the last one, so a fast typist costs a request per round trip, not per key.

import { ChangeSet } from "@codemirror/state";
import { api, CairnError, type EditOutcome, type Splice } from "./api";

export interface SyncHost {
  /** Applies changes from elsewhere to the view (not as the user's edit). */
  applyRemote(changes: ChangeSet, outcome: EditOutcome): void;
  /** Every answer, with the note's row as it is now. */
  answered(noteId: string, outcome: EditOutcome): void;
  /** The length of the view's text. */
  length(): number;
  /** A request failed; the editor should reload the note from the store. */
  failed(noteId: string, e: CairnError): void;
}

/** Splices to apply one after another, as the store takes them. */
export function splicesOf(changes: ChangeSet): Splice[] {
  const out: Splice[] = [];
  // Changes come in ascending order; applied one after another, each
  // starts at its position in the new document (fromB).
  changes.iterChanges((fromA, toA, fromB, _toB, inserted) => {
    out.push({ index: fromB, delete: toA - fromA, insert: inserted.toString() });
  });
  return out;
}

/** The change set of splices applied one after another to a text of `length`. */
export function changeSetOf(splices: Splice[], length: number): ChangeSet {
  let set = ChangeSet.empty(length);
  for (const s of splices) {
    const step = ChangeSet.of({ from: s.index, to: s.index + s.delete, insert: s.insert }, set.newLength);
    set = set.compose(step);
  }
  return set;
}

/**
 * `pending` (typed, not sent) and `remote` (from the store) both start from
 * the same text. The typed text is rebased over `remote` (`pending`, sent
 * next at the new heads), and `remote` is mapped over the typed text for
 * the view (`forView`); view and store then hold the same text. Where both
 * insert at one point the typed text goes first: it continues what the
 * user was typing there, and putting the remote text first would split it.
 */
export function rebase(pending: ChangeSet, remote: ChangeSet): { pending: ChangeSet; forView: ChangeSet } {
  return { pending: pending.map(remote, true), forView: remote.map(pending) };
}

export class SpliceQueue {
  private noteId: string | null = null;
  private heads: string[] = [];
  /** Typed since the request in flight was sent; on top of "heads + sent". */
  private pending: ChangeSet | null = null;
  private inFlight = false;
  private catchUpWanted = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly host: SyncHost) {}

  /** The editor now shows note `id` at `heads`. */
  open(id: string | null, heads: string[]): void {
    this.noteId = id;
    this.heads = heads;
    this.pending = null;
    this.catchUpWanted = false;
  }

  /** The user changed the text. */
  push(changes: ChangeSet): void {
    if (this.noteId === null) return;
    this.pending = this.pending ? this.pending.compose(changes) : changes;
    void this.pump();
  }

  /** The store changed the note (another device, or another command). */
  catchUp(): void {
    if (this.noteId === null) return;
    this.catchUpWanted = true;
    void this.pump();
  }

  get idle(): boolean {
    return !this.inFlight && this.pending === null && !this.catchUpWanted;
  }

  /** Resolves once everything typed so far has reached the store. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      while (this.noteId !== null && (this.pending !== null || this.catchUpWanted)) {
        const id = this.noteId;
        const sent = this.pending;
        this.pending = null;
        this.catchUpWanted = false;
        let outcome: EditOutcome;
        try {
          outcome = await api.edit(id, this.heads, sent ? splicesOf(sent) : []);
        } catch (e) {
          // Later edits were made on top of this one; the editor reloads
          // the note from the store instead of sending them.
          if (id === this.noteId) this.open(null, []);
          this.host.failed(id, e as CairnError);
          continue;
        }
        // Another note was opened meanwhile: this one's answer is for the list only.
        if (id !== this.noteId) {
          this.host.answered(id, outcome);
          continue;
        }
        this.heads = outcome.heads;
        if (outcome.remote.length > 0) {
          try {
            this.applyRemote(outcome);
          } catch (e) {
            // Splices that do not fit the text: the view and the store
            // disagree, so the store's text is shown afresh.
            this.open(null, []);
            console.error("remote splices did not apply", e);
            this.host.failed(
              id,
              new CairnError("editor_out_of_step", "This note changed elsewhere in a way the editor could not follow, so it was reloaded."),
            );
            continue;
          }
        }
        this.host.answered(id, outcome);
      }
    } finally {
      this.inFlight = false;
      if (this.idle) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  private applyRemote(outcome: EditOutcome): void {
    if (this.pending) {
      // The remote splices apply to "heads + sent", where pending starts.
      const r = rebase(this.pending, changeSetOf(outcome.remote, this.pending.length));
      this.pending = r.pending;
      this.host.applyRemote(r.forView, outcome);
    } else {
      this.host.applyRemote(changeSetOf(outcome.remote, this.host.length()), outcome);
    }
  }
}
