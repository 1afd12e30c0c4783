// Step 2, Destination: which host the mail moves to (a preset or another IMAP host, with its
// certificate checked and pinned when no known authority signed it), and the account plan:
// old address → new address, included or not, read from the store on disk or over IMAP.
import type { AccountChange } from "../bindings/AccountChange";
import type { CertificateInfo } from "../bindings/CertificateInfo";
import type { CommandError } from "../bindings/CommandError";
import type { Destination } from "../bindings/Destination";
import type { PlannedAccount } from "../bindings/PlannedAccount";
import type { PresetId } from "../bindings/PresetId";
import type { Security } from "../bindings/Security";
import { h } from "../lib/dom";
import { bytes, count, plural } from "../lib/format";

export interface DestinationForm {
  preset: PresetId | null;
  host: string;
  port: string;
  security: Security;
}

export interface DestinationProps {
  discovered: boolean;
  presets: Destination[];
  destination: Destination | null;
  pin: string | null;
  plan: PlannedAccount[];
  form: DestinationForm;
  /** The admin asked to change the chosen host. */
  editing: boolean;
  certificate: CertificateInfo | null;
  trusted: boolean;
  busy: boolean;
  /** A certificate check is running. */
  probing: boolean;
  error: CommandError | null;
  /** The old server's IMAP service (source_imap.ts), shown under the account plan. */
  sourceImap?: HTMLElement | null;
  /** Microsoft 365 / Google Workspace (oauth.ts): what to prepare and the app's details, under the cards. */
  oauthForm?: HTMLElement | null;
  /** How Ferry signs in to the chosen host as the admin's app (oauth.ts), in its card. */
  oauthSignIn?: HTMLElement | null;
}

export interface DestinationActions {
  pickPreset(preset: PresetId): void;
  setField(field: "host" | "port", value: string): void;
  setSecurity(security: Security): void;
  checkCertificate(): void;
  trust(yes: boolean): void;
  save(): void;
  edit(): void;
  change(account: string, change: AccountChange): void;
}

export const DESTINATION_LEAD =
  "Choose the new mail host and check which accounts move there, under which address. Nothing is copied yet.";

const PRESET_TEXT: Record<PresetId, string> = {
  googleWorkspace: "Gmail with your own domain.",
  microsoft365: "Exchange Online with your own domain.",
  fastmail: "Fastmail with your own domain.",
  genericImap: "Any other IMAP server: your own, or a hosting company's. You give its host name.",
};

const PRESET_TITLE: Record<PresetId, string> = {
  googleWorkspace: "Google Workspace",
  microsoft365: "Microsoft 365",
  fastmail: "Fastmail",
  genericImap: "Another IMAP host",
};

export function destinationBody(p: DestinationProps, a: DestinationActions): (HTMLElement | null)[] {
  if (!p.discovered) {
    return [h("div", { class: "notice", "data-testid": "empty" }, "Discover the old server first (step 1): the accounts to move come from there.")];
  }
  const choosing = p.destination === null || p.editing;
  return [
    p.error ? h("div", { class: "card error", role: "alert", "data-testid": "error", "data-code": p.error.code }, h("h2", {}, "That did not work"), h("p", { "data-testid": "error-message" }, p.error.message)) : null,
    choosing ? chooser(p, a) : chosen(p.destination!, p.pin, a, p.oauthSignIn ?? null),
    p.destination && !p.editing ? planTable(p.plan, a) : null,
    p.destination && !p.editing ? (p.sourceImap ?? null) : null,
  ];
}

function chooser(p: DestinationProps, a: DestinationActions): HTMLElement {
  const f = p.form;
  const card = (d: Destination) =>
    h(
      "button",
      {
        type: "button",
        class: `preset-card${f.preset === d.preset ? " chosen" : ""}`,
        "data-testid": `preset-${d.preset}`,
        "aria-pressed": f.preset === d.preset ? "true" : "false",
        onclick: () => a.pickPreset(d.preset),
      },
      h("span", { class: "preset-name" }, PRESET_TITLE[d.preset]),
      h("span", { class: "preset-text" }, PRESET_TEXT[d.preset]),
      d.needs.length > 0 ? h("ul", { class: "preset-needs" }, d.needs.map((n) => h("li", {}, n))) : null,
    );
  const generic = f.preset === "genericImap";
  // Typing does not re-render: the host and port are checked when a button is clicked.
  const needsTrust = p.certificate !== null && p.certificate.reason !== "";
  const canSave = f.preset !== null && (!generic || !needsTrust || p.trusted) && !p.busy;
  return h(
    "section",
    { class: "card", "data-testid": "destination-chooser" },
    h("h2", {}, "Where does the mail go?"),
    h("div", { class: "preset-grid" }, p.presets.map(card)),
    p.oauthForm ?? null,
    generic
      ? h(
          "div",
          { class: "host-form", "data-testid": "host-form" },
          h(
            "label",
            { class: "field" },
            h("span", {}, "IMAP server"),
            h("input", { type: "text", "data-testid": "imap-host", value: f.host, placeholder: "imap.example.com", spellcheck: "false", oninput: (e: Event) => a.setField("host", (e.target as HTMLInputElement).value) }),
          ),
          h(
            "label",
            { class: "field small" },
            h("span", {}, "Port"),
            h("input", { type: "text", inputmode: "numeric", "data-testid": "imap-port", value: f.port, oninput: (e: Event) => a.setField("port", (e.target as HTMLInputElement).value) }),
          ),
          h(
            "label",
            { class: "field small" },
            h("span", {}, "Security"),
            h(
              "select",
              { "data-testid": "imap-security", onchange: (e: Event) => a.setSecurity((e.target as HTMLSelectElement).value as Security) },
              (["tls", "startTls", "plain"] as Security[]).map((s) =>
                h("option", { value: s, selected: f.security === s }, s === "tls" ? "TLS (993)" : s === "startTls" ? "STARTTLS (143)" : "None (this computer only)"),
              ),
            ),
          ),
          h("button", { type: "button", class: "secondary", "data-testid": "check-certificate", disabled: p.busy || f.security === "plain", onclick: () => a.checkCertificate() }, p.probing ? "Checking…" : "Check certificate"),
        )
      : null,
    generic && p.certificate ? certificateCard(p.certificate, p.trusted, a) : null,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "primary", "data-testid": "save-destination", disabled: !canSave, onclick: () => a.save() }, "Use this host"),
      !canSave && generic && needsTrust && !p.trusted ? h("span", { class: "blocked" }, "Compare and trust the certificate first.") : null,
    ),
  );
}

function certificateCard(c: CertificateInfo, trusted: boolean, a: DestinationActions): HTMLElement {
  const known = c.reason === "";
  return h(
    "div",
    { class: `cert${known ? " ok" : ""}`, "data-testid": "certificate" },
    h("h3", {}, known ? "Certificate signed by a known authority" : `Certificate not trusted by this computer: ${c.reason}`),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Issued to"),
      h("dd", { class: "mono" }, c.subject),
      h("dt", {}, "Issued by"),
      h("dd", { class: "mono" }, c.issuer),
      h("dt", {}, "Valid"),
      h("dd", {}, `${c.not_before.slice(0, 10)} to ${c.not_after.slice(0, 10)}`),
      h("dt", {}, "SHA-256 fingerprint"),
      h("dd", { class: "mono fingerprint", "data-testid": "fingerprint" }, c.sha256.replace(/(..)(?=.)/g, "$1:")),
    ),
    known
      ? null
      : h(
          "label",
          { class: "trust" },
          h("input", { type: "checkbox", "data-testid": "trust-certificate", checked: trusted, onchange: (e: Event) => a.trust((e.target as HTMLInputElement).checked) }),
          " I compared this fingerprint with the one the server's administrator gave me. Trust exactly this certificate for this host.",
        ),
  );
}

function chosen(d: Destination, pin: string | null, a: DestinationActions, signIn: HTMLElement | null): HTMLElement {
  return h(
    "section",
    { class: "card", "data-testid": "destination-chosen" },
    h(
      "div",
      { class: "source-line" },
      h(
        "div",
        { class: "source-where" },
        h("strong", { "data-testid": "destination-name" }, d.name),
        h("span", { class: "sub mono", "data-testid": "destination-host" }, `${d.imap.host}:${d.imap.port}`),
        pin ? h("span", { class: "sub" }, "Certificate pinned (the fingerprint you trusted)") : null,
        signIn,
      ),
      h("div", { class: "actions" }, h("button", { type: "button", class: "quiet", "data-testid": "change-destination", onclick: () => a.edit() }, "Change host…")),
    ),
  );
}

const METHOD_TEXT = { store: "Store on disk", imap: "IMAP" } as const;

function planTable(plan: PlannedAccount[], a: DestinationActions): HTMLElement {
  const people = plan.filter((x) => x.kind === "user" && x.present);
  const included = people.filter((x) => x.included);
  return h(
    "section",
    { class: "card", "data-testid": "plan" },
    h("h2", {}, `Accounts to move (${count(included.length)} of ${count(people.length)})`),
    h(
      "p",
      { class: "section-lead" },
      "Each account keeps its address unless you type another. Untick an account to leave it behind. Ferry reads mail from the store on disk when it can (no user passwords needed on the old server).",
    ),
    h(
      "table",
      { class: "plan-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Move"), h("th", { scope: "col" }, "Old address"), h("th", { scope: "col" }, "New address"), h("th", { scope: "col" }, "Read from"), h("th", { scope: "col", class: "num" }, "Mail"))),
      h(
        "tbody",
        {},
        people.map((acc) =>
          h(
            "tr",
            { "data-testid": `plan-${acc.login}`, class: acc.included ? null : "inactive" },
            h("td", {}, h("input", { type: "checkbox", "aria-label": `Move ${acc.source_address}`, "data-testid": "include", checked: acc.included, onchange: (e: Event) => a.change(acc.source_address, { change: "included", value: (e.target as HTMLInputElement).checked }) })),
            h("td", { class: "mono" }, acc.source_address),
            h(
              "td",
              {},
              h("input", {
                type: "text",
                class: "mono address-input",
                "data-testid": "dest-address",
                value: acc.dest_address,
                disabled: !acc.included,
                spellcheck: "false",
                onchange: (e: Event) => a.change(acc.source_address, { change: "dest_address", value: (e.target as HTMLInputElement).value.trim() }),
              }),
            ),
            h(
              "td",
              {},
              h(
                "select",
                { "data-testid": "method", disabled: !acc.included, onchange: (e: Event) => a.change(acc.source_address, { change: "method", value: (e.target as HTMLSelectElement).value as PlannedAccount["method"] }) },
                (["store", "imap"] as const).map((m) => h("option", { value: m, selected: acc.method === m }, METHOD_TEXT[m])),
              ),
            ),
            h(
              "td",
              { class: "num" },
              plural(acc.messages, "message"),
              h("span", { class: "sub" }, acc.store === null ? "no mail store: nothing to copy" : bytes(acc.bytes)),
            ),
          ),
        ),
      ),
    ),
  );
}
