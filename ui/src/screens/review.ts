// Step 5, Review: the copy checked account by account (messages on the old server against the new
// host), and every message that failed with its reason and what to do, filterable, with a retry
// of just those messages.
import type { CommandError } from "../bindings/CommandError";
import type { FailedMessage } from "../bindings/FailedMessage";
import type { JobView } from "../bindings/JobView";
import type { PlannedAccount } from "../bindings/PlannedAccount";
import type { Review } from "../bindings/Review";
import { h } from "../lib/dom";
import { bytes, count, plural } from "../lib/format";

/** The review's counts are 64-bit in Rust (typed `bigint`); IPC carries them as JSON numbers. */
const n = (x: number | bigint): number => Number(x);

export interface ReviewProps {
  review: Review | null;
  plan: PlannedAccount[];
  filter: string;
  busy: boolean;
  job: JobView | null;
  error: CommandError | null;
}

export interface ReviewActions {
  check(): void;
  setFilter(text: string): void;
  retry(): void;
  /** Review's last resort for a refused message (screens/resolve.ts): its row's buttons, and the panel. */
  resolveButtons?(f: FailedMessage): HTMLElement | null;
  resolvePanel?(): HTMLElement | null;
}

export const REVIEW_LEAD =
  "Ferry compares every account on the old server with the new host, folder by folder, and lists each message that could not be copied, with the server's reason and what to do. It only reads.";

export function reviewBody(p: ReviewProps, a: ReviewActions): (HTMLElement | null)[] {
  const retrying = p.job?.kind === "retry" && p.job.running;
  return [
    p.error ? h("div", { class: "card error", role: "alert", "data-testid": "error", "data-code": p.error.code }, h("h2", {}, "The check could not run"), h("p", { "data-testid": "error-message" }, p.error.message)) : null,
    h(
      "section",
      { class: "card", "data-testid": "review-summary" },
      h("h2", {}, p.review ? (p.review.ok ? "Everything is on the new host" : `${plural(n(p.review.missing), "message")} not on the new host yet`) : "Check the copy"),
      p.review
        ? h(
            "p",
            { class: "section-lead", "data-testid": "review-counts" },
            `Old server: ${plural(n(p.review.source_messages), "message")} (${bytes(n(p.review.source_bytes))}). New host: ${plural(n(p.review.dest_messages), "message")} (${bytes(n(p.review.dest_bytes))}).`,
            p.review.resolved_text ? h("span", { class: "sub" }, p.review.resolved_text) : null,
          )
        : h("p", { class: "section-lead" }, "Run the check after the initial sync, and again before the cut-over."),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: p.review ? "secondary" : "primary", "data-testid": "check-review", disabled: p.busy || retrying, onclick: () => a.check() }, p.busy ? "Checking…" : p.review ? "Check again" : "Check the copy"),
        p.review && n(p.review.failed) > 0
          ? h("button", { type: "button", class: "primary", "data-testid": "retry", disabled: p.busy || retrying, onclick: () => a.retry() }, retrying ? "Copying again…" : `Copy the ${plural(n(p.review.failed), "failed message")} again`)
          : null,
      ),
      p.job?.kind === "retry" && p.job.summary ? h("p", { class: "sub", "data-testid": "retry-summary" }, p.job.summary) : null,
    ),
    a.resolvePanel?.() ?? null,
    p.review ? accounts(p.review, p.plan) : null,
    p.review ? failures(p.review, p.filter, p.plan, a) : null,
  ];
}

/** The engine's account key (`maildir:/…/<GUID> => imaps://new@host:993`) as the admin knows the
 * account: its old and new address from the plan. */
export function accountName(key: string, plan: PlannedAccount[]): string {
  const p = plan.find((x) => key === x.source_address || key.includes(`/${x.guid}`) || key.includes(`//${x.dest_address}@`));
  if (!p) return key;
  return p.source_address === p.dest_address ? p.source_address : `${p.source_address} → ${p.dest_address}`;
}

function accounts(r: Review, plan: PlannedAccount[]): HTMLElement {
  return h(
    "section",
    { class: "card", "data-testid": "review-accounts" },
    h("h2", {}, "Account by account"),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Account"), h("th", { scope: "col", class: "num" }, "Old server"), h("th", { scope: "col", class: "num" }, "New host"), h("th", { scope: "col", class: "num" }, "Missing"), h("th", { scope: "col", class: "num" }, "Failed"))),
      h(
        "tbody",
        {},
        r.accounts.map((acc) =>
          h(
            "tr",
            { "data-testid": `review-${acc.account}`, class: n(acc.missing) > 0 || acc.error ? "attention" : null },
            h("td", { class: "mono" }, accountName(acc.account, plan), acc.error ? h("span", { class: "sub bad" }, acc.error) : null),
            h("td", { class: "num" }, count(n(acc.source_messages)), h("span", { class: "sub" }, bytes(n(acc.source_bytes)))),
            h("td", { class: "num" }, count(n(acc.dest_messages)), h("span", { class: "sub" }, bytes(n(acc.dest_bytes)))),
            h("td", { class: "num", "data-testid": "missing" }, count(n(acc.missing))),
            h("td", { class: "num" }, count(acc.failures.length)),
          ),
        ),
      ),
    ),
  );
}

function matches(f: FailedMessage, filter: string): boolean {
  const needle = filter.trim().toLowerCase();
  if (needle === "") return true;
  return [f.account, f.folder, f.subject ?? "", f.reason, f.advice].some((x) => x.toLowerCase().includes(needle));
}

function failures(r: Review, filter: string, plan: PlannedAccount[], a: ReviewActions): HTMLElement {
  const all = r.accounts.flatMap((acc) => acc.failures);
  if (all.length === 0) return h("div", { class: "card ok", "data-testid": "no-failures" }, "No message failed.");
  const shown = all.filter((f) => matches(f, filter));
  return h(
    "section",
    { class: "card", "data-testid": "failures" },
    h("h2", {}, `Messages that failed (${shown.length === all.length ? all.length : `${shown.length} of ${all.length}`})`),
    h("input", {
      type: "search",
      class: "filter-input",
      "data-testid": "failure-filter",
      placeholder: "Filter by account, folder, subject or reason",
      value: filter,
      onchange: (e: Event) => a.setFilter((e.target as HTMLInputElement).value),
    }),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Account"), h("th", { scope: "col" }, "Folder"), h("th", { scope: "col" }, "Message"), h("th", { scope: "col" }, "Why"), h("th", { scope: "col" }, "What to do"))),
      h(
        "tbody",
        {},
        shown.map((f) =>
          h(
            "tr",
            { "data-testid": "failure" },
            h("td", { class: "mono" }, accountName(f.account, plan)),
            h("td", {}, f.folder),
            h("td", {}, f.subject ?? "(no subject)", h("span", { class: "sub" }, `${f.date ?? ""} ${bytes(n(f.size))}`.trim())),
            h("td", {}, f.reason),
            h("td", {}, f.advice, a.resolveButtons?.(f) ?? null),
          ),
        ),
      ),
    ),
  );
}
