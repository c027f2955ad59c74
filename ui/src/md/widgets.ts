// The widgets the live preview puts in place of Markdown markers: a task's
// checkbox, a list bullet, a horizontal rule. Each compares equal to its
// like, so CodeMirror keeps the element while the text around it changes.

import { WidgetType } from "@codemirror/view";

export class CheckboxWidget extends WidgetType {
  constructor(readonly checked: boolean) {
    super();
  }
  eq(other: CheckboxWidget): boolean {
    return other.checked === this.checked;
  }
  toDOM(): HTMLElement {
    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "cm-lp-task";
    box.checked = this.checked;
    box.dataset.testid = "task-checkbox";
    box.setAttribute("aria-label", this.checked ? "Done; click to reopen" : "Click to mark done");
    return box;
  }
  // The editor handles the click (it changes the text, not the element).
  ignoreEvent(): boolean {
    return false;
  }
}

export class BulletWidget extends WidgetType {
  eq(): boolean {
    return true;
  }
  toDOM(): HTMLElement {
    const s = document.createElement("span");
    s.className = "cm-lp-bullet";
    s.textContent = "•";
    return s;
  }
}

export class RuleWidget extends WidgetType {
  eq(): boolean {
    return true;
  }
  toDOM(): HTMLElement {
    const s = document.createElement("span");
    s.className = "cm-lp-hr";
    s.setAttribute("role", "separator");
    return s;
  }
}
