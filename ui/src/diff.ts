// Turns "the editor has A, the store now has B" into a few small changes,
// so CodeMirror can map the cursor and selection through a remote edit
// instead of replacing the whole text (which would throw the cursor away).
//
// Common prefix and suffix are trimmed first (a remote edit is usually one
// small region); the middle gets a Myers O(ND) diff when it is small enough,
// else one replacement of the middle.

export interface TextChange {
  from: number;
  to: number;
  insert: string;
}

const MAX_MYERS_COST = 2_000_000;

export function diffText(a: string, b: string): TextChange[] {
  if (a === b) return [];
  let start = 0;
  const minLen = Math.min(a.length, b.length);
  while (start < minLen && a.charCodeAt(start) === b.charCodeAt(start)) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a.charCodeAt(endA - 1) === b.charCodeAt(endB - 1)) {
    endA--;
    endB--;
  }
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  if (midA.length === 0 || midB.length === 0 || midA.length * midB.length > MAX_MYERS_COST) {
    return [{ from: start, to: endA, insert: midB }];
  }
  return myers(midA, midB).map((c) => ({ from: c.from + start, to: c.to + start, insert: c.insert }));
}

/** Myers' greedy diff, returning changes in positions of `a`, ascending. */
function myers(a: string, b: string): TextChange[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1])) x = v[offset + k + 1];
      else x = v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a.charCodeAt(x) === b.charCodeAt(y)) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // Walk back through the trace collecting single-character edits, then
  // merge neighbours into ranges.
  const edits: { kind: "del" | "ins"; posA: number; ch: string }[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d > 0; d--) {
    const vd = trace[d];
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[offset + k - 1] < vd[offset + k + 1]) ? k + 1 : k - 1;
    const prevX = vd[offset + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
    }
    if (x === prevX) edits.push({ kind: "ins", posA: x, ch: b[prevY] });
    else edits.push({ kind: "del", posA: prevX, ch: "" });
    x = prevX;
    y = prevY;
  }
  edits.reverse();
  const out: TextChange[] = [];
  for (const e of edits) {
    const last = out[out.length - 1];
    if (e.kind === "del") {
      if (last && last.to === e.posA) last.to++;
      else out.push({ from: e.posA, to: e.posA + 1, insert: "" });
    } else if (last && last.to === e.posA) {
      last.insert += e.ch;
    } else {
      out.push({ from: e.posA, to: e.posA, insert: e.ch });
    }
  }
  return out;
}

/** Applies changes given in positions of the original text; for tests. */
export function applyChanges(a: string, changes: TextChange[]): string {
  let out = "";
  let pos = 0;
  for (const c of changes) {
    out += a.slice(pos, c.from) + c.insert;
    pos = c.to;
  }
  return out + a.slice(pos);
}
