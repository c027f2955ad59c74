// Which link texts of the open note lead to a note, as the store last
// said. The preview styles a link whose target does not exist as missing;
// a link typed since the last answer is shown plainly until the next one.

import { StateEffect, StateField } from "@codemirror/state";

/** Link text -> whether a note has it (the store's `links` answer). */
export type LinkTargets = ReadonlyMap<string, boolean>;

export const setLinkTargets = StateEffect.define<LinkTargets>();

export const linkTargets = StateField.define<LinkTargets>({
  create: () => new Map(),
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setLinkTargets)) return e.value;
    return value;
  },
});
