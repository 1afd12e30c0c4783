// Review's last resort for a message the new host refuses for good (too big, malformed): deliver
// it wrapped (a short note saying why, the original attached unchanged) or save it to an mbox
// file, each after a confirmation. The Review screen shows the buttons in the failure's row and
// the panel above its tables.
import type { CommandError } from "../bindings/CommandError";
import type { FailedMessage } from "../bindings/FailedMessage";
import type { ResolveWay } from "../bindings/ResolveWay";
import type { Host } from "../ipc/types";
import { asCommandError } from "../ipc/types";
import { h } from "../lib/dom";

const LABEL: Record<ResolveWay, string> = { wrapped: "Deliver it wrapped", mbox: "Save it to an mbox file" };

function explain(f: FailedMessage, way: ResolveWay): string {
  const what = `"${f.subject ?? "(no subject)"}" in ${f.folder} of ${f.account}`;
  return way === "wrapped"
    ? `The new host refuses ${what}. Ferry puts a short message in its place on the new host, saying why, with the original attached unchanged. The person can open the attachment, or save it.`
    : `The new host refuses ${what}. Ferry asks where to save, then adds the message unchanged to that mbox file (any mail program can open it). It will not be on the new host: keep the file.`;
}

/** The state of one resolution at a time; `afterResolved` runs the review again. */
export class ResolveController {
  private asking: { f: FailedMessage; way: ResolveWay } | null = null;
  private busy = false;
  private done: string | null = null;
  private error: CommandError | null = null;

  constructor(
    private readonly host: Host,
    private readonly render: () => void,
    private readonly afterResolved: () => void,
  ) {}

  /** The buttons of a failure's row; none when the sync may still copy it. */
  buttons(f: FailedMessage): HTMLElement | null {
    if (f.can_resolve.length === 0) return null;
    return h(
      "div",
      { class: "actions", "data-testid": "resolve-buttons" },
      f.can_resolve.map((way) =>
        h("button", { type: "button", class: "secondary", "data-testid": `resolve-${way}`, disabled: this.busy, onclick: () => this.ask(f, way) }, LABEL[way]),
      ),
    );
  }

  /** The confirmation, the outcome or the error. */
  panel(): HTMLElement | null {
    if (this.asking) {
      const { f, way } = this.asking;
      return h(
        "div",
        { class: "card confirm", role: "alertdialog", "data-testid": "confirm-resolve" },
        h("h2", {}, `${LABEL[way]}?`),
        h("p", {}, explain(f, way)),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", class: "primary", "data-testid": "confirm-yes", disabled: this.busy, onclick: () => void this.resolve(f, way) }, this.busy ? "Working…" : LABEL[way]),
          h("button", { type: "button", class: "secondary", "data-testid": "confirm-no", disabled: this.busy, onclick: () => this.cancel() }, "Cancel"),
        ),
      );
    }
    if (this.error) {
      return h("div", { class: "card error", role: "alert", "data-testid": "resolve-error" }, h("h2", {}, "The message could not be kept"), h("p", {}, this.error.message));
    }
    return this.done ? h("div", { class: "card ok", "data-testid": "resolved" }, this.done) : null;
  }

  private ask(f: FailedMessage, way: ResolveWay): void {
    this.asking = { f, way };
    this.done = null;
    this.error = null;
    this.render();
  }

  private cancel(): void {
    this.asking = null;
    this.render();
  }

  private async resolve(f: FailedMessage, way: ResolveWay): Promise<void> {
    this.busy = true;
    this.render();
    try {
      const kept = await this.host.resolveMessage(f.account, { folder: f.folder, key: f.key }, way);
      this.asking = null;
      if (kept !== null) {
        this.done = kept.mbox_path ? `Saved to ${kept.mbox_path}.` : `Delivered wrapped to ${f.folder} on the new host.`;
        this.afterResolved();
      }
    } catch (err) {
      this.asking = null;
      this.error = asCommandError(err);
    }
    this.busy = false;
    this.render();
  }
}
