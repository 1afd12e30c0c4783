// Step 6, DNS prep: before anyone touches the MX records, where each domain's mail goes today
// (old server, new host, or both), what every resolver answers with its TTL, whether SPF lets
// the new host send, and the TTL advice (lower it first, then wait the old TTL).
import type { CommandError } from "../bindings/CommandError";
import type { DnsReport } from "../bindings/DnsReport";
import type { DnsSettings } from "../bindings/DnsSettings";
import type { DomainDns } from "../bindings/DomainDns";
import type { Points } from "../bindings/Points";
import type { SpfVerdict } from "../bindings/SpfVerdict";
import type { TtlWait } from "../bindings/TtlWait";
import { h } from "../lib/dom";
import { duration, percent, plural, when } from "../lib/format";

export interface DnsProps {
  report: DnsReport | null;
  /** The new host needs its MX names given (another IMAP host; presets know theirs). */
  needsMx: boolean;
  settings: DnsSettings | null;
  /** When the admin lowered the TTL, and until when the old TTL may linger. */
  ttlWait: TtlWait | null;
  /** Unix seconds: the countdown's "now" (the wizard re-renders it while it runs). */
  now: number;
  busy: boolean;
  error: CommandError | null;
}

export interface DnsActions {
  check(): void;
  /** Records what is typed (no re-render); the check saves it first. */
  typeMx(names: string): void;
  /** The admin lowered the TTL at their DNS provider just now. */
  ttlLowered(): void;
}

export const DNS_LEAD =
  "Before you change the MX records, Ferry asks every resolver where each domain's mail goes today, checks that SPF lets the new host send, and says how far to lower the TTL first. It only reads DNS.";

const POINTS_TEXT: Record<Points, string> = {
  old: "Old server",
  new: "New host",
  both: "Both (the switch is under way)",
  unknown: "Not known",
  failed: "No answer (resolver failed)",
  no_mx: "No MX record",
};

const SPF_TEXT: Record<SpfVerdict, string> = {
  allows: "SPF lets the new host send",
  does_not_allow: "SPF does not let the new host send yet",
  undecided: "SPF: Ferry cannot decide",
  no_record: "No SPF record",
  invalid: "The SPF record is invalid",
};

export function dnsBody(p: DnsProps, a: DnsActions): (HTMLElement | null)[] {
  return [
    p.error ? h("div", { class: "card error", role: "alert", "data-testid": "error", "data-code": p.error.code }, h("h2", {}, "The DNS check could not run"), h("p", { "data-testid": "error-message" }, p.error.message)) : null,
    p.needsMx ? mxForm(p, a) : null,
    h(
      "section",
      { class: "card", "data-testid": "dns-summary" },
      h("h2", {}, p.report ? (p.report.all_new ? "Every domain's mail goes to the new host" : "Where mail goes today") : "Check DNS"),
      p.report ? h("p", { class: "section-lead" }, `Checked ${plural(p.report.domains.length, "domain")}.`) : h("p", { class: "section-lead" }, "Run the check now, and again after you lower the TTL."),
      p.report && p.report.warnings.length > 0 ? h("ul", { class: "blockers", "data-testid": "dns-warnings" }, p.report.warnings.map((w) => h("li", {}, w))) : null,
      h("div", { class: "actions" }, h("button", { type: "button", class: p.report?.all_new ? "secondary" : "primary", "data-testid": "check-dns", disabled: p.busy, onclick: () => a.check() }, p.busy ? "Asking the resolvers…" : p.report ? "Check again" : "Check DNS")),
    ),
    ttlCard(p, a),
    ...(p.report ? p.report.domains.map(domainCard) : []),
  ];
}

/** The highest TTL to lower among the domains (the advice's "lower first"), if any. */
function ttlToLower(report: DnsReport | null): number | null {
  const high = (report?.domains ?? []).filter((d) => d.ttl?.lower_first).map((d) => d.ttl!.max_ttl);
  return high.length > 0 ? Math.max(...high) : null;
}

/**
 * After the TTL is lowered, resolvers may hold the old answer for as long as the old TTL: the
 * card offers to count it down, then counts it down, then says the MX records can be switched.
 */
function ttlCard(p: DnsProps, a: DnsActions): HTMLElement | null {
  if (p.report?.all_new) return null;
  const w = p.ttlWait;
  if (w === null) {
    const high = ttlToLower(p.report);
    if (high === null) return null;
    return h(
      "section",
      { class: "card ttl-wait", "data-testid": "ttl-wait", "data-state": "not_lowered" },
      h("h2", {}, "Lowered the TTL?"),
      h(
        "p",
        { class: "section-lead" },
        `Once you have lowered the TTL at your DNS provider, tell Ferry. Resolvers may still hold the old answer for up to the old TTL (${duration(high)}): Ferry counts it down and tells you when to switch the MX records.`,
      ),
      h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", "data-testid": "ttl-lowered", disabled: p.busy, onclick: () => a.ttlLowered() }, "I lowered the TTL")),
    );
  }
  const left = w.switch_after - p.now;
  const passed = left <= 0;
  const fill = h("span", { class: "bar-fill" });
  const done = percent(p.now - w.lowered_at, w.old_ttl_secs);
  fill.style.width = `${done.toFixed(1)}%`;
  return h(
    "section",
    { class: passed ? "card ok ttl-wait" : "card ttl-wait", "data-testid": "ttl-wait", "data-state": passed ? "passed" : "waiting", "data-switch-after": String(w.switch_after) },
    h("h2", { "data-testid": "ttl-wait-title" }, passed ? "The old TTL has passed: switch the MX records now" : `Switch the MX records after ${when(w.switch_after)}`),
    h("span", { class: "bar", "data-testid": "ttl-bar", "data-percent": done.toFixed(0), "aria-hidden": "true" }, fill),
    h(
      "p",
      { class: "sub", "data-testid": "ttl-wait-text" },
      passed
        ? `You lowered the TTL on ${when(w.lowered_at)}, and the old TTL (${duration(w.old_ttl_secs)}) has passed. Switch the MX records at your DNS provider, then continue to Cut-over and tell Ferry.`
        : `${duration(left)} left. You lowered the TTL on ${when(w.lowered_at)}; until the old TTL (${duration(w.old_ttl_secs)}) has passed, some resolvers may still send mail to the old server.`,
    ),
  );
}

function mxForm(p: DnsProps, a: DnsActions): HTMLElement {
  return h(
    "section",
    { class: "card", "data-testid": "dns-settings" },
    h("h2", {}, "The new host's mail servers"),
    h("p", { class: "section-lead" }, "For another IMAP host Ferry cannot know its MX names: type the names its provider gives for the MX records (comma separated), so Ferry can tell old from new."),
    h("input", {
      type: "text",
      class: "filter-input mono",
      "data-testid": "new-mx",
      placeholder: "mx1.new.example, mx2.new.example",
      value: (p.settings?.new_mx.names ?? []).join(", "),
      oninput: (e: Event) => a.typeMx((e.target as HTMLInputElement).value),
    }),
  );
}

function domainCard(d: DomainDns): HTMLElement {
  return h(
    "section",
    { class: "card", "data-testid": `dns-${d.domain}` },
    h("div", { class: "warning-head" }, h("strong", { class: "domain" }, d.domain), h("span", { class: `badge points-${d.points}`, "data-testid": "points" }, POINTS_TEXT[d.points])),
    d.ttl
      ? h(
          "p",
          { class: "section-lead", "data-testid": "ttl" },
          d.ttl.text,
        )
      : null,
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Resolver"), h("th", { scope: "col" }, "MX records"), h("th", { scope: "col" }, "Points to"))),
      h(
        "tbody",
        {},
        d.answers.map((r) =>
          h(
            "tr",
            { "data-testid": `resolver-${r.resolver}` },
            h("td", { class: "mono" }, r.resolver === "system" ? "This computer's resolver" : r.resolver),
            h(
              "td",
              { class: "mono" },
              r.mx.length === 0 ? h("span", { class: "muted" }, r.error ?? "no MX record") : r.mx.map((m) => h("span", { class: "sub-line" }, `${m.preference} ${m.host} (TTL ${duration(m.ttl)})`)),
            ),
            h("td", {}, POINTS_TEXT[r.points]),
          ),
        ),
      ),
    ),
    h(
      "p",
      { class: `spf spf-${d.spf.verdict}`, "data-testid": "spf" },
      h("strong", {}, SPF_TEXT[d.spf.verdict]),
      d.spf.record ? h("span", { class: "sub mono" }, d.spf.record) : null,
      d.spf.warning ? h("span", { class: "sub bad" }, d.spf.warning) : h("span", { class: "sub" }, d.spf.detail),
    ),
  );
}
