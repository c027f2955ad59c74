// A button that asks for a second click before it destroys something:
// the first click changes its label for a few seconds, a click within
// them confirms. A slip of the mouse cannot delete notes for good.

const ARMED_MS = 4000;

export class ConfirmClick {
  private timer = 0;

  constructor(
    private readonly button: HTMLElement,
    private readonly label: string,
    private readonly armedLabel: string,
  ) {}

  /** True on the confirming click; on the first one, arms and says so. */
  confirmed(): boolean {
    if (!this.timer) {
      this.button.textContent = this.armedLabel;
      this.timer = window.setTimeout(() => this.disarm(), ARMED_MS);
      return false;
    }
    this.disarm();
    return true;
  }

  private disarm(): void {
    window.clearTimeout(this.timer);
    this.timer = 0;
    this.button.textContent = this.label;
  }
}
