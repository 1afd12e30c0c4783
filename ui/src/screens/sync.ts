// Steps 4 and 9, Initial sync and Final sync: one job over every included account, with a bar per
// account (messages and bytes), a live throughput chart, the time left, and pause / resume (a
// paused copy continues exactly where it stopped: nothing is copied twice). The job runs in Ferry
// itself: closing the window does not stop it, and the menu-bar icon shows how far it is.
import type { AccountProgress } from "../bindings/AccountProgress";
import type { CommandError } from "../bindings/CommandError";
import type { JobKind } from "../bindings/JobKind";
import type { JobView } from "../bindings/JobView";
import type { PlannedAccount } from "../bindings/PlannedAccount";
import { h } from "../lib/dom";
import { bytes, count, duration, percent, plural } from "../lib/format";

export interface SyncProps {
  kind: JobKind;
  ready: boolean;
  /** Why it cannot start, in words (from the project's status). */
  blockers: string[];
  plan: PlannedAccount[];
  job: JobView | null;
  /** Bytes per second, oldest first (the chart). */
  rates: number[];
  /** The admin is asked to confirm (final sync). */
  confirming: boolean;
  error: CommandError | null;
  /** The phase's note from the project ("Stopped before the end; run it again to continue"). */
  note: string | null;
  /** The last run was paused (Resume), not ended (Run again). */
  paused: boolean;
  /** The phase is done (its last run succeeded). */
  done: boolean;
}

export interface SyncActions {
  start(): void;
  confirmed(): void;
  cancelConfirm(): void;
  pause(): void;
}

export const SYNC_LEAD: Record<"initial_sync" | "final_sync", string> = {
  initial_sync:
    "Ferry copies every included account's mail to the new host, folder by folder, with flags and dates. The old server keeps working; users notice nothing. You can pause at any time and resume later: nothing is copied twice.",
  final_sync:
    "After the MX records point at the new host and mail has stopped arriving at the old server, the final sync copies the last new messages and checks every account against the old server.",
};

export function syncBody(p: SyncProps, a: SyncActions): (HTMLElement | null)[] {
  const job = p.job && p.job.kind === p.kind ? p.job : null;
  const accounts = p.plan.filter((x) => x.included && x.present && x.kind === "user");
  const totalMessages = accounts.reduce((n, x) => n + x.messages, 0);
  const totalBytes = accounts.reduce((n, x) => n + x.bytes, 0);
  const running = job?.running ?? false;
  const name = p.kind === "final_sync" ? "final sync" : "initial sync";
  return [
    p.error ? h("div", { class: "card error", role: "alert", "data-testid": "error", "data-code": p.error.code }, h("h2", {}, "The copy could not start"), h("p", { "data-testid": "error-message" }, p.error.message)) : null,
    p.confirming
      ? h(
          "div",
          { class: "card confirm", role: "alertdialog", "data-testid": "confirm-sync" },
          h("h2", {}, "Run the final sync now?"),
          h("p", {}, `It copies what arrived since the last sync for ${plural(accounts.length, "account")}, then compares every account with the old server and marks the copying as finished. Do it once the MX records point at the new host and no more mail arrives at the old server.`),
          h(
            "div",
            { class: "actions" },
            h("button", { type: "button", class: "primary", "data-testid": "confirm-yes", onclick: () => a.confirmed() }, "Run final sync"),
            h("button", { type: "button", class: "secondary", "data-testid": "confirm-no", onclick: () => a.cancelConfirm() }, "Cancel"),
          ),
        )
      : null,
    h(
      "section",
      { class: "card", "data-testid": "sync-summary" },
      h("h2", {}, running ? `The ${name} is running` : job ? `The ${name} ${job.summary ? "ended" : "stopped"}` : `Ready for the ${name}`),
      h(
        "p",
        { class: "section-lead", "data-testid": "sync-scope" },
        `${plural(accounts.length, "account")}, ${plural(totalMessages, "message")}, ${bytes(totalBytes)} on the old server.`,
        job?.summary ? h("span", { class: "sub", "data-testid": "job-summary" }, job.summary) : p.note ? h("span", { class: "sub" }, p.note) : null,
      ),
      p.ready || running
        ? null
        : h("ul", { class: "blockers", "data-testid": "sync-blockers" }, p.blockers.map((b) => h("li", {}, b))),
      h(
        "div",
        { class: "actions" },
        running
          ? h("button", { type: "button", class: "secondary", "data-testid": "pause", onclick: () => a.pause() }, "Pause")
          : h(
              "button",
              // Once a run ended well, the next step (Continue) matters more than running it again;
              // while the confirmation asks, its button is the one primary and this one waits.
              { type: "button", class: p.confirming || (p.done && !p.paused) ? "secondary" : "primary", "data-testid": "start-sync", disabled: !p.ready || p.confirming, onclick: () => a.start() },
              job ? (p.paused ? `Resume the ${name}` : `Run the ${name} again`) : `Start the ${name}`,
            ),
        running ? h("span", { class: "blocked" }, "You may close this window: the copy goes on, and the menu-bar icon shows how far it is.") : null,
      ),
    ),
    job && job.accounts.length > 0 ? progressCard(job, p.rates) : null,
  ];
}

function progressCard(job: JobView, rates: number[]): HTMLElement {
  const done = job.accounts.reduce((n, x) => n + x.bytes_done, 0);
  const total = job.accounts.reduce((n, x) => n + x.bytes_total, 0);
  const rate = job.accounts.reduce((n, x) => n + x.bytes_per_second, 0);
  const etas = job.accounts.map((x) => x.eta_seconds).filter((x): x is number => x !== null);
  const eta = job.running && etas.length > 0 ? Math.max(...etas) : null;
  return h(
    "section",
    { class: "card", "data-testid": "progress" },
    h(
      "div",
      { class: "progress-head" },
      h("strong", { "data-testid": "overall" }, total === 0 ? (job.running ? "Looking at the folders…" : "Nothing new to copy: every message was already there") : `${bytes(done)} of ${bytes(total)} (${Math.floor(percent(done, total))} %)`),
      h("span", { class: "sub", "data-testid": "rate" }, job.running ? `${bytes(Math.round(rate))}/s` : ""),
      h("span", { class: "sub", "data-testid": "eta" }, eta !== null ? `About ${duration(eta)} left` : ""),
    ),
    // A chart needs two measurements: during a run it says it is measuring; after a run too
    // short to measure (or seen only after a restart) an empty frame would only puzzle.
    job.running || (rates.length > 1 && Math.max(...rates) > 0) ? chart(rates) : null,
    h(
      "table",
      { class: "progress-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Account"), h("th", { scope: "col" }, "Now"), h("th", { scope: "col" }, "Messages"), h("th", { scope: "col" }, "Size"))),
      h("tbody", {}, job.accounts.map(accountRow)),
    ),
  );
}

const STAGE_TEXT: Record<AccountProgress["stage"], string> = {
  waiting: "Waiting",
  planning: "Looking at folders",
  copying: "Copying",
  done: "Done",
  done_with_failures: "Done, some messages failed (see Review)",
  stopped: "Stopped",
  waiting_for_limit: "Waiting for the host's daily limit",
};

function accountRow(acc: AccountProgress): HTMLElement {
  return h(
    "tr",
    { "data-testid": `progress-${acc.account}`, "data-stage": acc.stage },
    h("td", { class: "mono" }, acc.account),
    h(
      "td",
      {},
      STAGE_TEXT[acc.stage],
      acc.folder && acc.stage === "copying" ? h("span", { class: "sub" }, acc.folder) : null,
      acc.error ? h("span", { class: "sub bad", "data-testid": "account-error" }, acc.error) : null,
    ),
    // An account with nothing new says so rather than "0 of 0" beside an empty bar.
    h("td", { class: "num" }, bar(acc.messages_total === 0 && acc.stage === "done" ? 100 : percent(acc.messages_done, acc.messages_total), "messages"), h("span", { "data-testid": "messages-done" }, acc.messages_total === 0 && acc.stage === "done" ? "nothing new" : `${count(acc.messages_done)} of ${count(acc.messages_total)}`)),
    h("td", { class: "num" }, bar(acc.bytes_total === 0 && acc.stage === "done" ? 100 : percent(acc.bytes_done, acc.bytes_total), "bytes"), h("span", {}, acc.bytes_total === 0 && acc.stage === "done" ? "up to date" : `${bytes(acc.bytes_done)} of ${bytes(acc.bytes_total)}`)),
  );
}

/** A bar; its width goes through the CSSOM (the CSP forbids style attributes). */
function bar(pct: number, what: string): HTMLElement {
  const fill = h("span", { class: "bar-fill" });
  fill.style.width = `${pct.toFixed(1)}%`;
  return h("span", { class: "bar", "data-testid": `bar-${what}`, "data-percent": pct.toFixed(0), "aria-hidden": "true" }, fill);
}

/** Throughput over the last minutes as an inline SVG line: no chart library, no style attributes. */
function chart(rates: number[]): HTMLElement {
  const ns = "http://www.w3.org/2000/svg";
  const width = 600;
  const height = 80;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  const measured = Math.max(0, ...rates);
  const peak = Math.max(1, measured);
  svg.setAttribute("aria-label", `Copy speed, up to ${bytes(Math.round(peak))}/s`);
  if (rates.length > 1 && measured > 0) {
    const step = width / (rates.length - 1);
    const points = rates.map((r, i) => `${(i * step).toFixed(1)},${(height - 4 - (r / peak) * (height - 8)).toFixed(1)}`);
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points.join(" "));
    line.setAttribute("class", "chart-line");
    svg.append(line);
  }
  return h("div", { class: "chart-box", "data-testid": "chart", "data-samples": rates.length }, svg as unknown as HTMLElement, h("span", { class: "chart-peak" }, measured > 0 ? `peak ${bytes(Math.round(peak))}/s` : "measuring the speed…"));
}
