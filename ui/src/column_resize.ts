// The notebooks and note list columns, resized by dragging their right
// edge (or with the arrow keys on it); the width is kept by appearance.ts.

/** Px per arrow key press; Shift for bigger steps. */
const KEY_STEP = 16;

export interface Column {
  handle: HTMLElement;
  column: HTMLElement;
  /** The CSS variable the layout reads the width from. */
  variable: string;
  min: number;
  max: number;
  /** The width the user settled on (at the end of a drag or key press). */
  save: (px: number) => void;
}

export function makeResizable(c: Column): void {
  const set = (px: number): number => {
    const w = Math.round(Math.max(c.min, Math.min(c.max, px)));
    document.documentElement.style.setProperty(c.variable, `${w}px`);
    c.handle.setAttribute("aria-valuenow", String(w));
    return w;
  };
  c.handle.setAttribute("aria-valuemin", String(c.min));
  c.handle.setAttribute("aria-valuemax", String(c.max));
  // Screen readers announce the width the column has, however it got it.
  new ResizeObserver(() =>
    c.handle.setAttribute("aria-valuenow", String(Math.round(c.column.getBoundingClientRect().width))),
  ).observe(c.column);
  c.handle.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    const start = e.clientX;
    const from = c.column.getBoundingClientRect().width;
    let width = from;
    c.handle.setPointerCapture(e.pointerId);
    document.body.dataset.resizing = "true";
    const move = (m: PointerEvent) => {
      width = set(from + m.clientX - start);
    };
    const up = () => {
      c.handle.removeEventListener("pointermove", move);
      c.handle.removeEventListener("pointerup", up);
      c.handle.removeEventListener("pointercancel", up);
      delete document.body.dataset.resizing;
      if (width !== from) c.save(width);
    };
    c.handle.addEventListener("pointermove", move);
    c.handle.addEventListener("pointerup", up);
    c.handle.addEventListener("pointercancel", up);
  });
  c.handle.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    e.preventDefault();
    const step = (e.shiftKey ? 4 : 1) * KEY_STEP * (e.key === "ArrowLeft" ? -1 : 1);
    c.save(set(c.column.getBoundingClientRect().width + step));
  });
}
