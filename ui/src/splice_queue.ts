// Sends editor edits to the store in order without ever making typing wait.
// Edits are queued synchronously as CodeMirror produces them; one request is
// in flight at a time and carries everything queued since the last one, so a
// fast typist costs a request per round trip, not per key.

import { api, type CairnError, type Splice } from "./api";

interface Pending {
  noteId: string;
  splices: Splice[];
}

export class SpliceQueue {
  private queue: Pending[] = [];
  private inFlight = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly onError: (noteId: string, e: CairnError) => void) {}

  push(noteId: string, splice: Splice): void {
    const last = this.queue[this.queue.length - 1];
    if (last && last.noteId === noteId) {
      const prev = last.splices[last.splices.length - 1];
      // Consecutive typing becomes one insert.
      if (prev && prev.delete === 0 && splice.delete === 0 && splice.index === prev.index + prev.insert.length) {
        prev.insert += splice.insert;
      } else {
        last.splices.push(splice);
      }
    } else {
      this.queue.push({ noteId, splices: [splice] });
    }
    void this.pump();
  }

  get idle(): boolean {
    return !this.inFlight && this.queue.length === 0;
  }

  /** Resolves once everything queued so far has reached the store. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      let next: Pending | undefined;
      while ((next = this.queue.shift())) {
        try {
          await api.edit(next.noteId, next.splices);
        } catch (e) {
          // Later edits of the same note were made on top of this one; the
          // editor reloads the note from the store instead of sending them.
          this.queue = this.queue.filter((p) => p.noteId !== next?.noteId);
          this.onError(next.noteId, e as CairnError);
        }
      }
    } finally {
      this.inFlight = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
