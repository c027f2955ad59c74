// Live preview: Markdown shown as what it means while it is edited, in the
// manner of Obsidian. Headings are sized, emphasis and code styled, links
// look like links, task markers are checkboxes, rules are rules, quotes and
// code blocks are set off; the markers themselves (`#`, `**`, `[[`, the
// link's address) are hidden except on the lines the selection touches, so
// the line being edited shows its source.
//
// Decorations are computed from the syntax tree for the visible ranges
// only, and again only when the text, the viewport, the lines under the
// selection or the tree change, so typing in a long note costs what the
// screen shows, not what the note holds. Tables replace whole lines, which
// a view plugin may not do; they are in tables.ts.

import { type EditorState, type Range } from "@codemirror/state";
import { Decoration, type DecorationSet, EditorView, ViewPlugin, type ViewUpdate } from "@codemirror/view";
import { syntaxTree } from "@codemirror/language";
import type { SyntaxNodeRef } from "@lezer/common";
import { BulletWidget, CheckboxWidget, RuleWidget } from "./widgets";
import { linkTargets, setLinkTargets } from "./link_targets";
import { noteLinkOf } from "./link_at";
import { wikiParts } from "./wikilink_syntax";
import { attachmentIdOf, FileChipWidget, ImageWidget } from "./attachment_widgets";

const hidden = Decoration.replace({});
const bullet = Decoration.replace({ widget: new BulletWidget() });
const rule = Decoration.replace({ widget: new RuleWidget() });
const checked = Decoration.replace({ widget: new CheckboxWidget(true) });
const unchecked = Decoration.replace({ widget: new CheckboxWidget(false) });
const mark = (cls: string) => Decoration.mark({ class: cls });
const em = mark("cm-lp-em");
const strong = mark("cm-lp-strong");
const strike = mark("cm-lp-strike");
const code = mark("cm-lp-code");
const done = mark("cm-lp-done");
const line = (cls: string) => Decoration.line({ class: cls });
const headingLine = [1, 2, 3, 4, 5, 6].map((n) => line(`cm-lp-h cm-lp-h${n}`));
const quoteLine = line("cm-lp-quote");
const codeLine = line("cm-lp-codeblock");
const codeFirst = line("cm-lp-codeblock cm-lp-codeblock-first");
const codeLast = line("cm-lp-codeblock cm-lp-codeblock-last");

/** Line numbers the selection touches: their markers stay visible. */
function activeLines(state: EditorState): Set<number> {
  const out = new Set<number>();
  for (const r of state.selection.ranges) {
    const first = state.doc.lineAt(r.from).number;
    const last = state.doc.lineAt(r.to).number;
    for (let n = first; n <= last; n++) out.add(n);
  }
  return out;
}

/** Whether any selection range touches [from, to]. */
function selectionTouches(state: EditorState, from: number, to: number): boolean {
  return state.selection.ranges.some((r) => r.to >= from && r.from <= to);
}

function build(view: EditorView): DecorationSet {
  const { state } = view;
  const doc = state.doc;
  const active = activeLines(state);
  const targets = state.field(linkTargets);
  const out: Range<Decoration>[] = [];
  const isActive = (pos: number) => active.has(doc.lineAt(pos).number);
  const hide = (from: number, to: number) => {
    if (to > from) out.push(hidden.range(from, to));
  };
  /** Line decorations for every line of [from, to] inside [lo, hi]. */
  const lines = (from: number, to: number, lo: number, hi: number, deco: (n: number, first: number, last: number) => Decoration) => {
    const first = doc.lineAt(from).number;
    const last = doc.lineAt(to).number;
    const a = Math.max(first, doc.lineAt(lo).number);
    const b = Math.min(last, doc.lineAt(hi).number);
    for (let n = a; n <= b; n++) out.push(deco(n, first, last).range(doc.line(n).from));
  };

  for (const { from, to } of view.visibleRanges) {
    syntaxTree(state).iterate({
      from,
      to,
      enter: (node: SyntaxNodeRef) => {
        const name = node.name;
        const heading = /^(?:ATX|Setext)Heading(\d)$/.exec(name);
        if (heading) {
          const level = Number(heading[1]);
          lines(node.from, node.to, from, to, () => headingLine[level - 1]);
          return;
        }
        switch (name) {
          case "HeaderMark": {
            if (isActive(node.from)) return;
            const ln = doc.lineAt(node.from);
            if (node.from === ln.from || /^\s*$/.test(doc.sliceString(ln.from, node.from))) {
              // The opening `## ` with the space after it.
              const after = doc.sliceString(node.to, node.to + 1) === " " ? node.to + 1 : node.to;
              hide(node.from, after);
            } else if (node.to === ln.to || /^\s*$/.test(doc.sliceString(node.to, ln.to))) {
              // A closing `##` or a setext underline.
              hide(node.from, node.to);
            }
            return;
          }
          case "Emphasis":
            out.push(em.range(node.from, node.to));
            return;
          case "StrongEmphasis":
            out.push(strong.range(node.from, node.to));
            return;
          case "Strikethrough":
            out.push(strike.range(node.from, node.to));
            return;
          case "EmphasisMark":
          case "StrikethroughMark":
            if (!isActive(node.from)) hide(node.from, node.to);
            return;
          case "InlineCode":
            out.push(code.range(node.from, node.to));
            return;
          case "CodeMark":
            // Inline code's backticks; a fence's are in FencedCode.
            if (node.node.parent?.name === "InlineCode" && !isActive(node.from)) hide(node.from, node.to);
            return;
          case "FencedCode":
            lines(node.from, node.to, from, to, (n, first, last) =>
              n === first ? codeFirst : n === last ? codeLast : codeLine,
            );
            return;
          case "Blockquote":
            lines(node.from, node.to, from, to, () => quoteLine);
            return;
          case "QuoteMark": {
            if (isActive(node.from)) return;
            const after = doc.sliceString(node.to, node.to + 1) === " " ? node.to + 1 : node.to;
            hide(node.from, after);
            return;
          }
          case "HorizontalRule":
            if (!isActive(node.from)) out.push(rule.range(node.from, node.to));
            return;
          case "ListMark": {
            const item = node.node.parent;
            const task = item?.getChild("Task");
            const marker = doc.sliceString(node.from, node.to);
            if (isActive(node.from)) return;
            if (task) {
              // A task's bullet gives way to its checkbox.
              const after = doc.sliceString(node.to, node.to + 1) === " " ? node.to + 1 : node.to;
              hide(node.from, after);
            } else if (marker === "-" || marker === "*" || marker === "+") {
              out.push(bullet.range(node.from, node.to));
            }
            return;
          }
          case "TaskMarker": {
            if (selectionTouches(state, node.from, node.to)) return;
            const isDone = /x/i.test(doc.sliceString(node.from + 1, node.to - 1));
            out.push((isDone ? checked : unchecked).range(node.from, node.to));
            const task = node.node.parent;
            if (isDone && task && task.to > node.to + 1) out.push(done.range(node.to + 1, task.to));
            return;
          }
          case "Link":
            linkDecorations(node, isActive(node.from));
            return false;
          case "WikiLink":
            wikiDecorations(node, isActive(node.from));
            return false;
          case "Image":
            imageDecorations(node, isActive(node.from));
            return false;
          default:
            return;
        }
      },
    });
  }

  /**
   * An attachment's address: its widget in place of the reference, or
   * after it on the line being edited (whose source stays visible).
   */
  function attachmentDecoration(node: SyntaxNodeRef, onActiveLine: boolean, image: boolean): boolean {
    const url = node.node.getChild("URL");
    const id = url ? attachmentIdOf(state.sliceDoc(url.from, url.to)) : null;
    if (!id) return false;
    const widget = image ? new ImageWidget(id) : new FileChipWidget(id);
    if (onActiveLine) out.push(Decoration.widget({ widget, side: 1 }).range(node.to));
    else out.push(Decoration.replace({ widget }).range(node.from, node.to));
    return true;
  }

  function imageDecorations(node: SyntaxNodeRef, onActiveLine: boolean): void {
    attachmentDecoration(node, onActiveLine, true);
  }

  function linkDecorations(node: SyntaxNodeRef, onActiveLine: boolean): void {
    if (attachmentDecoration(node, onActiveLine, false)) return;
    const marks = node.node.getChildren("LinkMark");
    const url = node.node.getChild("URL");
    if (marks.length < 2) return;
    const textFrom = marks[0].to;
    const textTo = marks[1].from;
    const link = noteLinkOf(state, node.node);
    const cls = link
      ? `cm-lp-link cm-lp-notelink${targets.get(link.text) === false ? " cm-lp-missing" : ""}`
      : "cm-lp-link";
    const attributes: Record<string, string> = { "data-testid": "link" };
    if (link) attributes["data-link"] = link.text;
    else if (url) attributes["data-href"] = state.sliceDoc(url.from, url.to);
    if (textTo > textFrom) out.push(Decoration.mark({ class: cls, attributes }).range(textFrom, textTo));
    if (onActiveLine) return;
    hide(node.from, textFrom);
    // `](address "title")`: everything after the shown text.
    if (url || marks.length > 2) hide(textTo, node.to);
  }

  function wikiDecorations(node: SyntaxNodeRef, onActiveLine: boolean): void {
    const inner = state.sliceDoc(node.from + 2, node.to - 2);
    const parts = wikiParts(inner);
    const missing = parts.text !== "" && targets.get(parts.text) === false;
    const shownFrom = node.from + 2 + parts.shownFrom;
    const shownTo = node.to - 2;
    const attributes: Record<string, string> = { "data-testid": "wikilink", "data-link": parts.text };
    if (missing) attributes["data-missing"] = "true";
    const cls = `cm-lp-link cm-lp-wikilink${missing ? " cm-lp-missing" : ""}`;
    if (onActiveLine) {
      out.push(Decoration.mark({ class: cls, attributes }).range(node.from, node.to));
      return;
    }
    if (shownTo > shownFrom) out.push(Decoration.mark({ class: cls, attributes }).range(shownFrom, shownTo));
    hide(node.from, shownFrom);
    hide(shownTo, node.to);
  }

  return Decoration.set(out, true);
}

export const livePreview = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = build(view);
    }
    update(u: ViewUpdate): void {
      const linesMoved =
        u.selectionSet && !sameLines(activeLines(u.startState), activeLines(u.state));
      const targetsChanged = u.transactions.some((t) => t.effects.some((e) => e.is(setLinkTargets)));
      // A task marker under the cursor shows as text; that depends on the
      // exact selection, not only on its lines.
      if (
        u.docChanged ||
        u.viewportChanged ||
        linesMoved ||
        targetsChanged ||
        (u.selectionSet && touchesTask(u)) ||
        syntaxTree(u.startState) !== syntaxTree(u.state)
      ) {
        this.decorations = build(u.view);
      }
    }
  },
  { decorations: (p) => p.decorations },
);

function sameLines(a: Set<number>, b: Set<number>): boolean {
  if (a.size !== b.size) return false;
  for (const n of a) if (!b.has(n)) return false;
  return true;
}

function touchesTask(u: ViewUpdate): boolean {
  for (const state of [u.startState, u.state]) {
    for (const r of state.selection.ranges) {
      const ln = state.doc.lineAt(r.head);
      if (/^\s*(?:[-*+]|\d+[.)])\s+\[[ xX]\]/.test(ln.text)) return true;
    }
  }
  return false;
}

/** Toggles the task marker `[ ]`/`[x]` that starts at `pos`; the user's edit. */
export function toggleTaskAt(view: EditorView, pos: number): boolean {
  const marker = view.state.sliceDoc(pos, pos + 3);
  if (!/^\[[ xX]\]$/.test(marker)) return false;
  view.dispatch({
    changes: { from: pos + 1, to: pos + 2, insert: marker[1] === " " ? "x" : " " },
    userEvent: "input.toggle",
  });
  return true;
}

/** Clicking a checkbox toggles its task without moving the cursor there. */
export const taskClicks = EditorView.domEventHandlers({
  mousedown(e, view) {
    const target = e.target as HTMLElement | null;
    if (!target?.classList.contains("cm-lp-task")) return false;
    e.preventDefault();
    return toggleTaskAt(view, view.posAtDOM(target));
  },
});
