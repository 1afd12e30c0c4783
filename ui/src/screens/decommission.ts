// Step 11, Decommission: may the old server be switched off? The readiness checklist with what to
// do for each open item, the "quiet for" clock (no mail at the old server for 72 hours), the
// confirmation that a clone of the old server is kept, and the final report.
import type { ChecklistItem } from "../bindings/ChecklistItem";
import type { CommandError } from "../bindings/CommandError";
import type { DecommissionScreen } from "../bindings/DecommissionScreen";
import type { ItemState } from "../bindings/ItemState";
import type { QuietClock } from "../bindings/QuietClock";
import type { Host } from "../ipc/types";
import { asCommandError } from "../ipc/types";
import { h } from "../lib/dom";
import { blockerList } from "./placeholder";
import { percent, plural } from "../lib/format";

export const DECOMMISSION_LEAD =
  "Before the old server is switched off, every item below must be done. Ferry checks them now (it only reads); nothing here switches anything off.";

export interface DecommissionProps {
  screen: DecommissionScreen | null;
  /** Unix seconds, for the clock. */
  now: number;
  confirmingClone: boolean;
  busy: boolean;
  error: CommandError | null;
}

export interface DecommissionActions {
  check(): void;
  markClone(): void;
  confirmedClone(): void;
  cancelClone(): void;
  writeReport(): void;
  openReport(): void;
}

const STATE: Record<ItemState, string> = { done: "Done", not_yet: "Not yet", blocked: "Blocked" };

/** "2 days 5 hours", "3 hours", "12 minutes": the clock's reading. */
export function quietText(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  if (days > 0) return hours > 0 ? `${plural(days, "day")} ${plural(hours, "hour")}` : plural(days, "day");
  if (hours > 0) return plural(hours, "hour");
  return plural(Math.floor(s / 60), "minute");
}

export function decommissionBody(p: DecommissionProps, a: DecommissionActions): (HTMLElement | null)[] {
  const v = p.screen?.view ?? null;
  const cloneItem = v?.checklist.items.find((i) => i.id === "server_clone_kept") ?? null;
  return [
    p.error
      ? h("div", { class: "card error", role: "alert", "data-testid": "error", "data-code": p.error.code }, h("h2", {}, "The check could not run"), h("p", { "data-testid": "error-message" }, p.error.message))
      : null,
    h(
      "section",
      { class: v?.checklist.ready ? "card ok" : "card", "data-testid": "decommission-summary" },
      h(
        "h2",
        { "data-testid": "readiness" },
        v === null ? "Is the old server ready to be switched off?" : v.checklist.ready ? "Ready: the old server can be switched off" : `Not yet: ${plural(v.checklist.items.filter((i) => i.state !== "done").length, "item")} to do`,
      ),
      v === null ? h("p", { class: "section-lead" }, "Check once the final sync has run and the MX records point at the new host.") : null,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: v === null || !v.checklist.ready ? "primary" : "secondary", "data-testid": "check-readiness", disabled: p.busy, onclick: () => a.check() }, p.busy ? "Checking…" : v === null ? "Check readiness" : "Check again"),
        v !== null
          ? h("button", { type: "button", class: v.checklist.ready ? "primary" : "secondary", "data-testid": "write-report", disabled: p.busy, onclick: () => a.writeReport() }, v.report_html ? "Write the final report again" : "Write the final report")
          : null,
        v?.report_html ? h("button", { type: "button", class: "secondary", "data-testid": "open-report", onclick: () => a.openReport() }, "Open the final report") : null,
      ),
      v?.report_html ? h("p", { class: "sub" }, "Final report: ", h("span", { class: "mono", "data-testid": "report-path" }, v.report_html)) : null,
    ),
    p.screen ? clock(p.screen.clock, p.now, v?.checklist.items.find((i) => i.id === "old_server_quiet") ?? null) : null,
    v ? checklist(v.checklist.items, a, cloneItem !== null && cloneItem.state !== "done") : null,
    p.confirmingClone
      ? h(
          "div",
          { class: "card confirm", role: "alertdialog", "data-testid": "confirm-clone" },
          h("h2", {}, "Is a clone of the old server kept?"),
          h("p", {}, "Confirm only if a bootable clone or a full backup of the old server's disk exists, has been checked to open, and is kept somewhere safe. Once the server is switched off, it is the only way back to anything Ferry did not copy."),
          h(
            "div",
            { class: "actions" },
            h("button", { type: "button", class: "primary", "data-testid": "confirm-yes", onclick: () => a.confirmedClone() }, "Yes, a clone is kept"),
            h("button", { type: "button", class: "secondary", "data-testid": "confirm-no", onclick: () => a.cancelClone() }, "Cancel"),
          ),
        )
      : null,
  ];
}

/** A bar; its width goes through the CSSOM (the CSP forbids style attributes). */
function bar(pct: number, state: "counting" | "blocked" | "done"): HTMLElement {
  const fill = h("span", { class: "bar-fill" });
  fill.style.width = pct === 0 ? "0%" : `${pct.toFixed(1)}%`;
  return h("span", { class: "bar", "data-testid": "quiet-bar", "data-percent": pct.toFixed(0), "data-state": state, "aria-hidden": "true" }, fill);
}

/** The clock; it shows done only when the checklist's item is (quiet counts once DNS is all new). */
function clock(c: QuietClock | null, now: number, item: ChecklistItem | null): HTMLElement {
  if (c === null || c.quiet_since === null) {
    return h(
      "section",
      { class: "card quiet-clock", "data-testid": "quiet-clock" },
      h("h2", {}, "Quiet for: not known yet"),
      h("p", { class: "sub" }, c === null ? "The mail arriving at the old server could not be checked (the checklist says why)." : "The clock starts when the MX records are switched to the new host."),
    );
  }
  const quietFor = now - c.quiet_since;
  const needed = c.quiet_hours * 3600;
  // blocked: the quiet time does not count yet (DNS not all new), so the bar shows none of it
  const blocked = item !== null && item.state === "blocked";
  const done = !blocked && quietFor >= needed && (item === null || item.state === "done");
  const why = item?.todo ?? item?.detail ?? "";
  const waitingFor = quietFor >= needed && !done ? why : null;
  return h(
    "section",
    { class: done ? "card ok quiet-clock" : "card quiet-clock", "data-testid": "quiet-clock" },
    h("h2", {}, "Quiet for ", h("span", { "data-testid": "quiet-for" }, quietText(quietFor))),
    blocked ? bar(0, "blocked") : bar(percent(quietFor, needed), done ? "done" : "counting"),
    h(
      "p",
      { class: "sub", "data-testid": "quiet-needed" },
      done
        ? `No mail has reached the old server for ${c.quiet_hours} hours or more.`
        : waitingFor !== null
          ? `Quiet long enough, but it does not count yet. ${waitingFor}`
          : blocked
            ? `It does not count yet. ${why}`
            : `${quietText(needed - quietFor)} to go: the old server should get no mail for ${c.quiet_hours} hours before it is switched off. If mail arrives, the clock starts again.`,
    ),
  );
}

function checklist(items: ChecklistItem[], a: DecommissionActions, cloneOpen: boolean): HTMLElement {
  return h(
    "section",
    { class: "card", "data-testid": "checklist" },
    h("h2", {}, "Checklist"),
    h(
      "ul",
      { class: "checklist" },
      items.map((i) =>
        h(
          "li",
          { "data-testid": `item-${i.id}`, "data-state": i.state, class: `check-${i.state}` },
          h("span", { class: "chip", "data-testid": "item-state" }, STATE[i.state]),
          " ",
          h("strong", {}, i.title),
          h("span", { class: "sub" }, i.detail),
          i.todo ? h("span", { class: "sub todo", "data-testid": "item-todo" }, `To do: ${i.todo}`) : null,
          i.id === "server_clone_kept" && cloneOpen
            ? h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", "data-testid": "mark-clone", onclick: () => a.markClone() }, "Mark: a clone of the old server is kept"))
            : null,
        ),
      ),
    ),
  );
}

/** The screen's own state and its calls to the host; the wizard asks it for the body. */
export class DecommissionController {
  private screen: DecommissionScreen | null = null;
  private confirmingClone = false;
  private busy = false;
  private error: CommandError | null = null;

  constructor(
    private readonly host: Host,
    private readonly render: () => void,
    /** Called after a check ran: the check is logged as the step's run, so the wizard's board
     * (the sidebar's "Decommission" state) has changed. */
    private readonly checked: () => void = () => {},
    private readonly clock: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  body(blockers: string[] = []): (HTMLElement | null)[] {
    return [blockerList(blockers), ...decommissionBody(
      // the check's own time (the app's clock, which a rehearsal may move on), not the web view's
      { screen: this.screen, now: this.screen?.clock?.checked_at ?? this.clock(), confirmingClone: this.confirmingClone, busy: this.busy, error: this.error },
      {
        check: () => void this.run(false),
        markClone: () => this.update(() => (this.confirmingClone = true)),
        confirmedClone: () => {
          this.confirmingClone = false;
          void this.markClone();
        },
        cancelClone: () => this.update(() => (this.confirmingClone = false)),
        writeReport: () => void this.run(true),
        openReport: () => void this.guard(() => this.host.openRecorded("final_report")),
      },
    )];
  }

  private update(change: () => unknown): void {
    change();
    this.render();
  }

  private async guard(call: () => Promise<unknown>): Promise<void> {
    this.error = null;
    try {
      await call();
    } catch (err) {
      this.error = asCommandError(err);
    }
    this.render();
  }

  private async run(writeReport: boolean): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.render();
    await this.guard(async () => {
      this.screen = await this.host.decommission(writeReport);
    });
    this.busy = false;
    this.render();
    if (this.error === null) this.checked();
  }

  private async markClone(): Promise<void> {
    await this.guard(() => this.host.markCloneKept());
    if (this.error === null) await this.run(false);
  }
}
