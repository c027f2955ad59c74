// The editor's side of edits placed at heads: splices to change sets and
// back, and the rebase of typed-but-unsent text over the store's changes.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Text } from "@codemirror/state";
import { changeSetOf, rebase, splicesOf } from "./splice_queue";

const doc = (s: string) => Text.of(s.split("\n"));

test("splices applied one after another make the same text as their change set", () => {
  const start = "hello world";
  const splices = [
    { index: 5, delete: 0, insert: "," },
    { index: 0, delete: 1, insert: "H" },
    { index: 12, delete: 0, insert: "!" },
  ];
  let byHand = start;
  for (const s of splices) byHand = byHand.slice(0, s.index) + s.insert + byHand.slice(s.index + s.delete);
  const set = changeSetOf(splices, start.length);
  assert.equal(set.apply(doc(start)).toString(), byHand);
  // And back: the splices of a change set rebuild it.
  assert.equal(changeSetOf(splicesOf(set), start.length).apply(doc(start)).toString(), byHand);
});

test("the unsent text goes before a remote insert at the typing point, in view and store alike", () => {
  const start = doc("ab");
  const typed = changeSetOf([{ index: 1, delete: 0, insert: "XY" }], 2);
  const remote = changeSetOf([{ index: 1, delete: 0, insert: "peer" }], 2);
  const { pending, forView } = rebase(typed, remote);
  const view = forView.apply(typed.apply(start)).toString();
  const store = pending.apply(remote.apply(start)).toString();
  assert.equal(view, "aXYpeerb");
  assert.equal(store, view);
});

test("rebasing over deletes and inserts elsewhere keeps view and store equal", () => {
  const text = "the quick brown fox";
  const start = doc(text);
  const typed = changeSetOf(
    [
      { index: 4, delete: 5, insert: "slow" },
      { index: 18, delete: 0, insert: "es" },
    ],
    text.length,
  );
  const remote = changeSetOf(
    [
      { index: 0, delete: 4, insert: "" },
      { index: 11, delete: 0, insert: " old" },
    ],
    text.length,
  );
  const { pending, forView } = rebase(typed, remote);
  const view = forView.apply(typed.apply(start)).toString();
  assert.equal(view, pending.apply(remote.apply(start)).toString());
  assert.equal(view, "slow brown old foxes");
});
