// Markdown tables laid out as tables. A table the selection is not in is
// replaced, lines and all, by an HTML table; with the cursor in it the
// source shows, to be edited. Replacing whole lines changes the editor's
// height map, which CodeMirror takes only from a state field, so this is
// one (tables.ts) beside the view plugin (live_preview.ts).
//
// The field looks at the document's top-level blocks only (a table is
// one), so a keystroke costs a walk over a note's paragraphs, not its text.

import { type EditorState, type Range, StateField } from "@codemirror/state";
import { Decoration, type DecorationSet, EditorView, WidgetType } from "@codemirror/view";
import { syntaxTree } from "@codemirror/language";

type Align = "left" | "center" | "right" | null;

/** Splits a table row into its cells: `|` separates, `\|` and code spans do not. */
export function splitRow(text: string): string[] {
  let s = text.trim();
  if (s.startsWith("|")) s = s.slice(1);
  if (s.endsWith("|") && !s.endsWith("\\|")) s = s.slice(0, -1);
  const cells: string[] = [];
  let cur = "";
  let ticks = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "\\" && s[i + 1] === "|") {
      cur += "|";
      i++;
    } else if (c === "`") {
      ticks = ticks ? 0 : 1;
      cur += c;
    } else if (c === "|" && !ticks) {
      cells.push(cur.trim());
      cur = "";
    } else cur += c;
  }
  cells.push(cur.trim());
  return cells;
}

function alignOf(cell: string): Align {
  const l = cell.startsWith(":");
  const r = cell.endsWith(":");
  return l && r ? "center" : r ? "right" : l ? "left" : null;
}

/** A cell's text with its inline code shown as code and bold markers dropped. */
function fillCell(el: HTMLElement, text: string): void {
  const parts = text.split(/(`[^`]+`)/);
  for (const p of parts) {
    if (p.startsWith("`") && p.endsWith("`") && p.length > 1) {
      const c = document.createElement("code");
      c.textContent = p.slice(1, -1);
      el.append(c);
    } else if (p) {
      el.append(p.replace(/\*\*|__/g, ""));
    }
  }
}

class TableWidget extends WidgetType {
  constructor(readonly source: string) {
    super();
  }
  eq(other: TableWidget): boolean {
    return other.source === this.source;
  }
  toDOM(): HTMLElement {
    const rows = this.source.split("\n").filter((l) => l.trim() !== "");
    const wrap = document.createElement("div");
    wrap.className = "cm-lp-table";
    wrap.dataset.testid = "table";
    const table = document.createElement("table");
    const header = splitRow(rows[0] ?? "");
    const aligns = splitRow(rows[1] ?? "").map(alignOf);
    const thead = table.createTHead().insertRow();
    header.forEach((h, i) => {
      const th = document.createElement("th");
      fillCell(th, h);
      if (aligns[i]) th.style.textAlign = aligns[i] as string;
      thead.append(th);
    });
    const body = table.createTBody();
    for (const r of rows.slice(2)) {
      const tr = body.insertRow();
      const cells = splitRow(r);
      header.forEach((_, i) => {
        const td = tr.insertCell();
        fillCell(td, cells[i] ?? "");
        if (aligns[i]) td.style.textAlign = aligns[i] as string;
      });
    }
    wrap.append(table);
    return wrap;
  }
  // A click puts the cursor into the table's source (see `tableClicks`).
  ignoreEvent(): boolean {
    return false;
  }
}

function build(state: EditorState): DecorationSet {
  const out: Range<Decoration>[] = [];
  const tree = syntaxTree(state);
  const top = tree.topNode.firstChild;
  for (let n = top; n; n = n.nextSibling) {
    if (n.name !== "Table") continue;
    const from = state.doc.lineAt(n.from).from;
    const to = state.doc.lineAt(n.to).to;
    const inside = state.selection.ranges.some((r) => r.to >= from && r.from <= to);
    if (inside) {
      for (let l = state.doc.lineAt(from).number; l <= state.doc.lineAt(to).number; l++)
        out.push(Decoration.line({ class: "cm-lp-table-source" }).range(state.doc.line(l).from));
      continue;
    }
    out.push(
      Decoration.replace({ widget: new TableWidget(state.sliceDoc(from, to)), block: true }).range(from, to),
    );
  }
  return Decoration.set(out, true);
}

export const tables = StateField.define<DecorationSet>({
  create: build,
  update(value, tr) {
    if (tr.docChanged || tr.selection || syntaxTree(tr.startState) !== syntaxTree(tr.state)) return build(tr.state);
    return value;
  },
  provide: (f) => EditorView.decorations.from(f),
});

/** A click on a laid-out table moves the cursor into its source. */
export const tableClicks = EditorView.domEventHandlers({
  mousedown(e, view) {
    const target = (e.target as HTMLElement | null)?.closest(".cm-lp-table");
    if (!target) return false;
    e.preventDefault();
    const pos = view.posAtDOM(target);
    view.dispatch({ selection: { anchor: pos } });
    view.focus();
    return true;
  },
});
