// Step 7, Cut-over: the admin switches the MX records at their DNS provider and says so here.
// Ferry then asks every resolver every 30 seconds until all answer only the new host, and then
// runs the cut-over sync by itself (mail that reached the old server meanwhile is copied).
import type { CommandError } from "../bindings/CommandError";
import type { JobView } from "../bindings/JobView";
import type { TtlWait } from "../bindings/TtlWait";
import { h } from "../lib/dom";
import { bytes, count, duration, when } from "../lib/format";

export interface CutoverProps {
  blockers: string[];
  /** The step is done (every resolver answers the new host, mail copied): watching again is the lesser choice. */
  done: boolean;
  job: JobView | null;
  /** The TTL lowered on DNS prep: until its old TTL has passed, the screen says to wait. */
  ttlWait: TtlWait | null;
  /** Unix seconds. */
  now: number;
  error: CommandError | null;
}

export interface CutoverActions {
  switched(): void;
  stop(): void;
}

export const CUTOVER_LEAD =
  "Change the MX records at your DNS provider to the new host, then tell Ferry. It watches every resolver until all of them answer only the new host, and then copies, by itself, the mail that still reached the old server.";

export function cutoverBody(p: CutoverProps, a: CutoverActions): (HTMLElement | null)[] {
  const job = p.job && p.job.kind === "dns_watch" ? p.job : null;
  const running = job?.running ?? false;
  const copying = job ? job.accounts.filter((x) => x.messages_total > 0 || x.stage !== "waiting") : [];
  return [
    p.error ? h("div", { class: "card error", role: "alert", "data-testid": "error", "data-code": p.error.code }, h("h2", {}, "The watch could not start"), h("p", { "data-testid": "error-message" }, p.error.message)) : null,
    h(
      "section",
      { class: "card", "data-testid": "cutover" },
      h("h2", {}, running ? "Watching the resolvers" : job ? "The cut-over watch ended" : "Switch the MX records"),
      job?.summary ? h("p", { class: "section-lead", "data-testid": "cutover-summary" }, job.summary) : h("p", { class: "section-lead" }, "Only click once the MX records at your DNS provider name the new host. Ferry notes the time of the switch for the final report."),
      p.blockers.length > 0 && !running ? h("ul", { class: "blockers", "data-testid": "cutover-blockers" }, p.blockers.map((b) => h("li", {}, b))) : null,
      !job && p.ttlWait && p.ttlWait.switch_after > p.now
        ? h(
            "p",
            { class: "notice", "data-testid": "cutover-ttl" },
            h("strong", {}, `Better wait until ${when(p.ttlWait.switch_after)} (${duration(p.ttlWait.switch_after - p.now)} from now). `),
            `You lowered the TTL on ${when(p.ttlWait.lowered_at)}: until the old TTL (${duration(p.ttlWait.old_ttl_secs)}) has passed, some resolvers still send mail to the old server. Ferry would copy that mail too, in the cut-over and final syncs, but people would see it late.`,
          )
        : null,
      h(
        "div",
        { class: "actions" },
        running
          ? h("button", { type: "button", class: "secondary", "data-testid": "stop-watch", onclick: () => a.stop() }, "Stop watching")
          : h("button", { type: "button", class: p.done ? "secondary" : "primary", "data-testid": "mx-switched", disabled: p.blockers.length > 0, onclick: () => a.switched() }, job ? "Watch again" : "I switched the MX records"),
      ),
    ),
    copying.length > 0
      ? h(
          "section",
          { class: "card", "data-testid": "cutover-sync" },
          h("h2", {}, "The cut-over sync"),
          h(
            "table",
            {},
            h("tbody", {}, copying.map((x) => h("tr", { "data-testid": `cutover-${x.account}` }, h("td", { class: "mono" }, x.account), h("td", { class: "num" }, x.messages_total === 0 ? "nothing new" : `${count(x.messages_done)} of ${count(x.messages_total)}`), h("td", { class: "num" }, bytes(x.bytes_done))))),
          ),
        )
      : null,
  ];
}
