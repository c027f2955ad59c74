// Property test for the remote-change diff: for random texts and random
// edits, the changes rebuild the new text exactly, in ascending order.
// Run with `npm test`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { applyChanges, diffText } from "./diff";

const alphabet = "ab c\n\u00e9\ud83d\ude00";

function random(n: number, rnd: () => number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
  return s;
}

/** A small seeded generator, so a failure can be replayed. */
function mulberry32(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("diff rebuilds the target text from random edits", () => {
  const rnd = mulberry32(42);
  for (let i = 0; i < 5000; i++) {
    const a = random(Math.floor(rnd() * 40), rnd);
    let b = a;
    for (let k = 0; k < 3; k++) {
      const at = Math.floor(rnd() * (b.length + 1));
      b = b.slice(0, at) + random(Math.floor(rnd() * 4), rnd) + b.slice(at + Math.floor(rnd() * 3));
    }
    const changes = diffText(a, b);
    assert.equal(applyChanges(a, changes), b, JSON.stringify({ a, b, changes }));
    for (let j = 1; j < changes.length; j++) assert.ok(changes[j].from >= changes[j - 1].to);
  }
});

test("a remote insert far from the cursor is one small change", () => {
  const a = "x".repeat(50_000);
  const b = a.slice(0, 100) + "hello" + a.slice(100);
  // Runs of one letter are ambiguous; any single insert of "hello" will do.
  const changes = diffText(a, b);
  assert.equal(changes.length, 1);
  assert.equal(changes[0].insert, "hello");
  assert.equal(changes[0].to - changes[0].from, 0);
});

test("separate remote edits stay separate, so a cursor between them is kept", () => {
  const a = "one two three four five";
  const b = "ONE two three four FIVE";
  const changes = diffText(a, b);
  assert.ok(changes.length >= 2, JSON.stringify(changes));
  assert.ok(changes.every((c) => c.to <= 3 || c.from >= 19), JSON.stringify(changes));
});
