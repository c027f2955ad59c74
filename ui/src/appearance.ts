// Light, dark or the system's theme, the editor's font size and the column
// widths: applied to the page (style.css's variables), kept by the shell in
// the settings, edited in the settings dialog.

import { api } from "./api";
import { byId, toast } from "./dom";
import type { Appearance } from "./bindings/Appearance";
import type { Theme } from "./bindings/Theme";
import { makeResizable } from "./column_resize";

/** As src-tauri/appearance.rs allows. */
const NAV_WIDTH = { min: 140, max: 420 };
const LIST_WIDTH = { min: 180, max: 560 };

const systemDark = matchMedia("(prefers-color-scheme: dark)");

export class AppearanceSettings {
  private current: Appearance = { theme: "system", font_size: 15, nav_width: null, list_width: null };
  private readonly themeSelect = byId<HTMLSelectElement>("theme-select");
  private readonly fontSelect = byId<HTMLSelectElement>("font-size-select");

  /** `onDark` hears the resolved theme whenever it changes (the editor's own colours). */
  constructor(private readonly onDark: (dark: boolean) => void) {
    this.apply();
    systemDark.addEventListener("change", () => this.apply());
    this.themeSelect.addEventListener("change", () =>
      void this.save({ theme: this.themeSelect.value as Theme }),
    );
    this.fontSelect.addEventListener("change", () =>
      void this.save({ font_size: Number(this.fontSelect.value) }),
    );
    makeResizable({
      handle: byId("nav-resizer"),
      column: byId("nav"),
      variable: "--nav-width",
      ...NAV_WIDTH,
      save: (px) => void this.save({ nav_width: px }),
    });
    makeResizable({
      handle: byId("list-resizer"),
      column: byId("sidebar"),
      variable: "--list-width",
      ...LIST_WIDTH,
      save: (px) => void this.save({ list_width: px }),
    });
  }

  get dark(): boolean {
    return this.current.theme === "dark" || (this.current.theme === "system" && systemDark.matches);
  }

  get value(): Appearance {
    return this.current;
  }

  /** Reads what was saved (at start). */
  async load(): Promise<void> {
    this.current = (await api.settings()).appearance;
    this.apply();
  }

  /** Changes part of it, shows it at once and keeps it. */
  async save(change: Partial<Appearance>): Promise<void> {
    this.current = { ...this.current, ...change };
    this.apply();
    try {
      this.current = await api.setAppearance(this.current);
    } catch (e) {
      // Shown as chosen for now; the next start shows what was kept.
      toast(e instanceof Error ? e.message : String(e), "error");
      return;
    }
    this.apply();
  }

  private apply(): void {
    const root = document.documentElement;
    const a = this.current;
    root.dataset.theme = this.dark ? "dark" : "light";
    root.style.setProperty("--editor-font-size", `${a.font_size}px`);
    if (a.nav_width) root.style.setProperty("--nav-width", `${a.nav_width}px`);
    else root.style.removeProperty("--nav-width");
    if (a.list_width) root.style.setProperty("--list-width", `${a.list_width}px`);
    else root.style.removeProperty("--list-width");
    this.themeSelect.value = a.theme;
    if (![...this.fontSelect.options].some((o) => o.value === String(a.font_size)))
      this.fontSelect.append(new Option(`${a.font_size}`, String(a.font_size)));
    this.fontSelect.value = String(a.font_size);
    this.onDark(this.dark);
  }
}
