// The wizard's board (the sidebar) against the fake host: it follows the Decommission readiness
// check at once, and a job that starts (from the screen, or from the menu-bar menu, where the
// screen clicked nothing); the "quiet for" clock does not look complete while its checklist item
// is blocked.
import { beforeEach, describe, expect, it } from "vitest";
import type { ChecklistItem } from "../src/bindings/ChecklistItem";
import type { ChecklistItemId } from "../src/bindings/ChecklistItemId";
import type { DecommissionScreen } from "../src/bindings/DecommissionScreen";
import type { PhaseLine } from "../src/bindings/PhaseLine";
import { decommissionBody } from "../src/screens/decommission";
import { Wizard } from "../src/wizard/app";
import { FakeHost, discoveredView, generic } from "./fixtures";

let root: HTMLElement;
let host: FakeHost;
const tid = (id: string) => root.querySelector<HTMLElement>(`[data-testid="${id}"]`);
const flush = () => new Promise((r) => setTimeout(r, 20));

beforeEach(() => {
  document.body.innerHTML = "";
  root = document.createElement("div");
  document.body.append(root);
  host = new FakeHost();
});

function item(id: ChecklistItemId, state: ChecklistItem["state"], title: string, todo: string | null): ChecklistItem {
  return { id, title, state, detail: `${title}: detail`, todo };
}

function screen(quiet: ChecklistItem): DecommissionScreen {
  return {
    view: {
      checklist: { checked_at: "2026-12-04T18:00:00Z", items: [item("accounts_final_synced", "done", "Every account had its final sync", null), quiet], ready: false },
      review: null,
      report_html: null,
      report_json: null,
    },
    clock: { quiet_since: 1_000_000, checked_at: 1_000_000 + 3600 * 100, quiet_hours: 72, quiet: true },
  };
}

const waiting = item("old_server_quiet", "not_yet", "No mail at the old server for 72 hours", "Wait, then check again.");

/** The board as the app has it after the check ran: Decommission needs attention. */
function boardAfterCheck(phases: PhaseLine[]): PhaseLine[] {
  return phases.map((p) => (p.phase === "decommission" ? { ...p, state: "needs_attention", note: "1 item to do", blockers: [] } : p));
}

describe("Decommission and the wizard's board", () => {
  it("the sidebar shows the check's result right after it ran, not on the next view", async () => {
    host.view = { ...discoveredView({ kind: "copy", root: "/srv/copy" }), destination: generic("imap.example.net", 993) };
    await Wizard.start(root, host);
    tid("phase-decommission")!.click();
    await flush();
    expect(tid("phase-decommission")!.dataset.state).toBe("not_started");
    host.calls = [];
    // the app logs the check as the step's run: its board changes
    host.view = { ...host.view, status: { ...host.view.status, phases: boardAfterCheck(host.view.status.phases) } };
    host.decommissionResults = [screen(waiting)];
    tid("check-readiness")!.click();
    await flush();
    expect(host.calls).toEqual(["decommission false", "app_view"]);
    expect(tid("phase-decommission")!.dataset.state).toBe("needs_attention");
    expect(tid("phase-decommission")!.textContent).toContain("Needs attention: 1 item to do");
    // still on the same screen, with the check's result
    expect(tid("readiness")!.textContent).toBe("Not yet: 1 item to do");
  });

  it("a check that fails leaves the board alone", async () => {
    host.view = { ...discoveredView({ kind: "copy", root: "/srv/copy" }), destination: generic("imap.example.net", 993) };
    await Wizard.start(root, host);
    tid("phase-decommission")!.click();
    await flush();
    host.calls = [];
    host.failNext = { code: "project_file", message: "Ferry could not read the migration file." };
    tid("check-readiness")!.click();
    await flush();
    expect(host.calls).toEqual(["decommission false"]);
    expect(tid("error-message")!.textContent).toBe("Ferry could not read the migration file.");
  });
});

describe("A job that starts and the wizard's board", () => {
  it("the sidebar shows the step running once its job starts, also when the menu-bar menu started it", async () => {
    host.view = { ...discoveredView({ kind: "copy", root: "/srv/copy" }), destination: generic("imap.example.net", 993) };
    const w = await Wizard.start(root, host);
    tid("phase-final_sync")!.click();
    await flush();
    expect(tid("phase-final_sync")!.dataset.state).toBe("not_started");
    host.calls = [];
    // the project logged the run before the job said it started
    host.view = { ...host.view, status: { ...host.view.status, phases: host.view.status.phases.map((p) => (p.phase === "final_sync" ? { ...p, state: "running", note: null, blockers: [] } : p)) } };
    w.onJobEvent({ job_id: "job-9", event: { kind: "started", job: "final_sync", accounts: [] } });
    await flush();
    expect(host.calls).toEqual(["app_view"]);
    expect(tid("phase-final_sync")!.dataset.state).toBe("running");
    expect(tid("phase-final_sync")!.textContent).toBe("…Final syncRunning");
  });
});

describe("The quiet clock", () => {
  const body = (s: DecommissionScreen, now: number) => {
    const el = document.createElement("div");
    el.append(...(decommissionBody({ screen: s, now, confirmingClone: false, busy: false, error: null }, { check() {}, markClone() {}, confirmedClone() {}, cancelClone() {}, writeReport() {}, openReport() {} }).filter((x) => x !== null) as HTMLElement[]));
    return el;
  };
  const blocked = item("old_server_quiet", "blocked", "No mail at the old server for 72 hours", "First get DNS to point only to the new host.");

  it("draws no complete bar while its checklist item is blocked, however long it was quiet", () => {
    const el = body(screen(blocked), 1_000_000 + 3600 * 100);
    const bar = el.querySelector<HTMLElement>('[data-testid="quiet-bar"]')!;
    expect(bar.dataset.percent).toBe("0");
    expect(bar.dataset.state).toBe("blocked");
    expect(bar.querySelector<HTMLElement>(".bar-fill")!.style.width).toBe("0%");
    expect(el.querySelector<HTMLElement>('[data-testid="quiet-clock"]')!.classList.contains("ok")).toBe(false);
    expect(el.querySelector('[data-testid="quiet-for"]')!.textContent).toBe("4 days 4 hours");
    expect(el.querySelector('[data-testid="quiet-needed"]')!.textContent).toBe("Quiet long enough, but it does not count yet. First get DNS to point only to the new host.");
  });

  it("says why it does not count while blocked, before the 72 hours too", () => {
    const el = body(screen(blocked), 1_000_000 + 3600 * 30);
    expect(el.querySelector<HTMLElement>('[data-testid="quiet-bar"]')!.dataset.percent).toBe("0");
    expect(el.querySelector('[data-testid="quiet-needed"]')!.textContent).toBe("It does not count yet. First get DNS to point only to the new host.");
  });

  it("fills the bar with the time while it counts, and full once its item is done", () => {
    const counting = body(screen(waiting), 1_000_000 + 3600 * 36);
    const bar = counting.querySelector<HTMLElement>('[data-testid="quiet-bar"]')!;
    expect(bar.dataset.percent).toBe("50");
    expect(bar.dataset.state).toBe("counting");
    expect(bar.querySelector<HTMLElement>(".bar-fill")!.style.width).toBe("50.0%");
    const done = body(screen(item("old_server_quiet", "done", "No mail at the old server for 72 hours", null)), 1_000_000 + 3600 * 100);
    expect(done.querySelector<HTMLElement>('[data-testid="quiet-bar"]')!.dataset.percent).toBe("100");
    expect(done.querySelector<HTMLElement>('[data-testid="quiet-bar"]')!.dataset.state).toBe("done");
    expect(done.querySelector<HTMLElement>('[data-testid="quiet-clock"]')!.classList.contains("ok")).toBe(true);
  });
});
