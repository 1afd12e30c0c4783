// Microsoft 365 and Google Workspace: Ferry signs in as the admin's app for every mailbox (an
// Entra app registration with a client secret or a certificate; a Google service account with
// domain-wide delegation), so nobody's password is collected. Two sections with one state: on
// Destination, what the admin prepares and the app's details (the secret typed goes one way, key
// files are named by path and read in Rust); on Credentials, instead of password fields, the check
// that signs in to every planned mailbox, with what to do for each that fails.
import type { AppView } from "../bindings/AppView";
import type { CommandError } from "../bindings/CommandError";
import type { LoginCheckRecord } from "../bindings/LoginCheckRecord";
import type { OAuthFile } from "../bindings/OAuthFile";
import type { OAuthSettings } from "../bindings/OAuthSettings";
import type { OAuthSignIn } from "../bindings/OAuthSignIn";
import type { PresetId } from "../bindings/PresetId";
import type { Host } from "../ipc/types";
import { asCommandError } from "../ipc/types";
import { h } from "../lib/dom";
import { when } from "../lib/format";

/** The presets Ferry signs in to as the admin's app. */
export type OAuthPreset = "microsoft365" | "googleWorkspace";

export function isOAuthPreset(preset: PresetId | null): preset is OAuthPreset {
  return preset === "microsoft365" || preset === "googleWorkspace";
}

/** What the admin typed or chose (the secret only until it is stored). */
export interface OAuthFields {
  tenant: string;
  clientId: string;
  credential: "client_secret" | "certificate";
  secret: string;
  certificateFile: string;
  keyFile: string;
  serviceAccountKey: string;
}

/** A step's text; a command to type is marked `{ code }` (shown in a monospace font). */
export type StepPart = string | { code: string };

/** What the admin prepares at the provider, in the order it is done (README: "Microsoft 365 and Google Workspace"). */
export const PREPARE: Record<OAuthPreset, { title: string; steps: StepPart[][] }> = {
  microsoft365: {
    title: "Prepare in Microsoft 365 (a global admin, once)",
    steps: [
      ["In the Microsoft Entra admin center, App registrations, New registration: a name such as “Ferry migration”, accounts in this organizational directory only. Note its Application (client) ID and Directory (tenant) ID."],
      ["Certificates & secrets: a new client secret (copy its Value at once), or upload a certificate whose private key you keep."],
      ["API permissions, Add a permission, APIs my organization uses, Office 365 Exchange Online, Application permissions: IMAP.AccessAsApp. Then Grant admin consent."],
      ["In Exchange Online PowerShell, register the app's service principal (the object ID is on its Enterprise applications page): ", { code: "New-ServicePrincipal -AppId <application ID> -ObjectId <object ID>" }],
      ["Give it each mailbox Ferry copies into: ", { code: "Add-MailboxPermission -Identity <mailbox> -User <service principal ID> -AccessRights FullAccess" }],
    ],
  },
  googleWorkspace: {
    title: "Prepare in Google Workspace (a super admin, once)",
    steps: [
      ["In the Google Cloud console, IAM & Admin, Service accounts: create a service account. Note its unique ID (the client ID)."],
      ["Keys, Add key, Create new key, JSON: keep the file it downloads."],
      ["In the Google Admin console, Security, Access and data control, API controls, Manage Domain Wide Delegation, Add new: the service account's client ID and the scope ", { code: "https://mail.google.com/" }, ", then Authorize."],
      ["Check that IMAP is on for the users (Apps, Google Workspace, Gmail, End User Access)."],
    ],
  },
};

/** A step's text as the screen shows it (and the tests compare). */
export function stepText(step: StepPart[]): string {
  return step.map((p) => (typeof p === "string" ? p : p.code)).join("");
}

const STATUS_TEXT: Record<string, string> = { ok: "Signs in" };

export const OAUTH_CREDENTIALS_LEAD =
  "Ferry signs in to the new host as your app, for every mailbox: nobody's password is needed. Check that the app may open each mailbox before the copy starts.";

/** Whether the view's destination is one Ferry signs in to as the admin's app. */
export function signsInAsApp(view: AppView): boolean {
  return view.oauth !== null && view.destination !== null && isOAuthPreset(view.destination.preset);
}

/** The sign-in in words: which app, and what proves it. */
export function signInText(s: OAuthSettings): string {
  if (s.kind === "microsoft_app") {
    const proof = s.credential === "certificate" ? "its certificate" : "its client secret";
    return `app ${s.client_id} in tenant ${s.tenant}, with ${proof}`;
  }
  return `service account ${s.client_email}, with its JSON key`;
}

function emptyFields(): OAuthFields {
  return { tenant: "", clientId: "", credential: "client_secret", secret: "", certificateFile: "", keyFile: "", serviceAccountKey: "" };
}

/** The state of both sections, kept apart from the wizard's (the wizard only renders them). */
export class OAuthScreen {
  fields: OAuthFields = emptyFields();
  /** The secret was stored in this session (the field says so instead of asking again). */
  stored = false;
  /** The file chooser could not open (the path can still be typed). */
  fileError: CommandError | null = null;
  private prefilled = false;

  constructor(
    private readonly host: Host,
    private readonly render: () => void,
  ) {}

  /** The app's details of a sign-in already chosen, so "Change host…" starts from them. */
  private prefill(view: AppView): void {
    if (this.prefilled) return;
    this.prefilled = true;
    const s = view.oauth;
    if (s?.kind === "microsoft_app") {
      this.fields = { ...this.fields, tenant: s.tenant, clientId: s.client_id, credential: s.credential };
    }
  }

  /** The sign-in as the command takes it, and the typed secret (Microsoft's client secret only). */
  signIn(preset: OAuthPreset): { signIn: OAuthSignIn; secret: string | null } {
    const f = this.fields;
    if (preset === "googleWorkspace") return { signIn: { kind: "google_service_account", key_file: f.serviceAccountKey }, secret: null };
    if (f.credential === "certificate") {
      return { signIn: { kind: "microsoft_certificate", tenant: f.tenant, client_id: f.clientId, certificate_file: f.certificateFile, key_file: f.keyFile }, secret: null };
    }
    return { signIn: { kind: "microsoft_secret", tenant: f.tenant, client_id: f.clientId }, secret: f.secret };
  }

  /** Saves the host with its sign-in (the secret into the password store); forgets the typed secret. */
  async save(preset: OAuthPreset): Promise<AppView> {
    const { signIn, secret } = this.signIn(preset);
    const view = await this.host.chooseOAuthDestination(signIn, secret);
    this.fields = { ...this.fields, secret: "" };
    this.stored = true;
    return view;
  }

  private async choose(what: OAuthFile, field: "certificateFile" | "keyFile" | "serviceAccountKey"): Promise<void> {
    try {
      const path = await this.host.chooseOAuthFile(what);
      if (path !== null) this.fields = { ...this.fields, [field]: path };
    } catch (err) {
      // a dialog that cannot open is rare; the path can still be typed
      this.fileError = asCommandError(err);
    }
    this.render();
  }

  /** On Destination, under the preset cards: what to prepare and the app's details. */
  destinationForm(preset: PresetId | null, view: AppView): HTMLElement | null {
    if (!isOAuthPreset(preset)) return null;
    this.prefill(view);
    const prepare = PREPARE[preset];
    return h(
      "div",
      { class: "oauth-form", "data-testid": `oauth-${preset}` },
      h(
        "p",
        { class: "section-lead" },
        preset === "microsoft365"
          ? "Ferry signs in as your app for every mailbox: nobody's password is needed. The app needs a little preparation by an administrator first."
          : "Ferry signs in with your service account for every mailbox: nobody's password is needed. The account needs a little preparation by an administrator first.",
      ),
      h("h3", {}, prepare.title),
      h("ol", { class: "prepare-steps", "data-testid": "prepare-steps" }, prepare.steps.map((step) => h("li", {}, step.map((part) => (typeof part === "string" ? part : h("code", {}, part.code)))))),
      h("h3", {}, preset === "microsoft365" ? "Your app's details" : "Your service account's key"),
      preset === "microsoft365" ? this.microsoftFields() : this.googleFields(),
      this.fileError ? h("p", { class: "sub bad", role: "alert" }, this.fileError.message) : null,
      h(
        "p",
        { class: "footnote", "data-testid": "oauth-footnote" },
        preset === "microsoft365"
          ? "Ferry keeps the secret or the certificate's key in this computer's password store and never shows it again; the migration file holds only the tenant and the application ID."
          : "Ferry keeps the key in this computer's password store and never shows it again; the migration file holds only the service account's address.",
      ),
    );
  }

  private text(testid: string, label: string, value: string, placeholder: string, set: (v: string) => void): HTMLElement {
    return h(
      "label",
      { class: "field" },
      h("span", {}, label),
      // typing does not re-render: the value is read when "Use this host" is clicked
      h("input", { type: "text", class: "mono", "data-testid": testid, value, placeholder, spellcheck: "false", autocomplete: "off", oninput: (e: Event) => set((e.target as HTMLInputElement).value) }),
    );
  }

  private fileRow(testid: string, label: string, what: OAuthFile, field: "certificateFile" | "keyFile" | "serviceAccountKey", placeholder: string): HTMLElement {
    return h(
      "label",
      { class: "field" },
      h("span", {}, label),
      h(
        "span",
        { class: "path-row" },
        h("input", {
          type: "text",
          class: "path-input",
          "data-testid": testid,
          value: this.fields[field],
          placeholder,
          spellcheck: "false",
          oninput: (e: Event) => {
            this.fields = { ...this.fields, [field]: (e.target as HTMLInputElement).value };
          },
        }),
        h("button", { type: "button", class: "secondary", "data-testid": `${testid}-choose`, onclick: () => void this.choose(what, field) }, "Choose…"),
      ),
    );
  }

  private microsoftFields(): HTMLElement {
    const f = this.fields;
    const set = (patch: Partial<OAuthFields>) => {
      this.fields = { ...this.fields, ...patch };
    };
    const option = (value: OAuthFields["credential"], title: string) =>
      h(
        "label",
        { class: "radio-line" },
        h("input", {
          type: "radio",
          name: "oauth-credential",
          "data-testid": `credential-${value}`,
          checked: f.credential === value,
          onchange: () => {
            set({ credential: value });
            this.render();
          },
        }),
        " ",
        title,
      );
    return h(
      "div",
      { class: "oauth-fields", "data-testid": "microsoft-fields" },
      h(
        "div",
        { class: "host-form" },
        this.text("tenant", "Tenant (primary domain or Directory ID)", f.tenant, "contoso.onmicrosoft.com", (v) => set({ tenant: v })),
        this.text("client-id", "Application (client) ID", f.clientId, "00001111-aaaa-2222-bbbb-3333cccc4444", (v) => set({ clientId: v })),
      ),
      h("div", { class: "radio-group", role: "radiogroup", "aria-label": "How the app proves itself" }, h("span", { class: "radio-title" }, "The app proves itself with"), option("client_secret", "a client secret"), option("certificate", "a certificate")),
      f.credential === "client_secret"
        ? h(
            "label",
            { class: "field" },
            h("span", {}, "Client secret (its Value, not its ID)"),
            h("input", {
              type: "password",
              class: "password-input",
              "data-testid": "client-secret",
              autocomplete: "off",
              spellcheck: "false",
              value: f.secret,
              placeholder: this.stored ? "Stored (type to replace)" : "The secret's Value",
              oninput: (e: Event) => set({ secret: (e.target as HTMLInputElement).value }),
            }),
          )
        : h(
            "div",
            {},
            this.fileRow("certificate-file", "Certificate uploaded to the app (PEM)", "certificate", "certificateFile", "/Users/admin/ferry-app.crt"),
            this.fileRow("key-file", "Its private key (PEM, without a passphrase)", "private_key", "keyFile", "/Users/admin/ferry-app.key"),
          ),
    );
  }

  private googleFields(): HTMLElement {
    return h("div", { class: "oauth-fields", "data-testid": "google-fields" }, this.fileRow("service-account-key", "The service account's JSON key file", "service_account_key", "serviceAccountKey", "/Users/admin/Downloads/project-123abc.json"));
  }

  /** On Destination, in the chosen host's card: how Ferry signs in there. */
  signInLine(view: AppView): HTMLElement | null {
    const s = view.oauth;
    if (!s || !signsInAsApp(view)) return null;
    return h("span", { class: "sub", "data-testid": "oauth-sign-in" }, `Ferry signs in as your ${signInText(s)} (kept in the password store)`);
  }

  /** Credentials for a host Ferry signs in to as the admin's app: no password fields, the check of every mailbox. */
  credentialsBody(view: AppView, busy: boolean, error: CommandError | null, check: () => void, editApp: () => void): (HTMLElement | null)[] | null {
    const s = view.oauth;
    const d = view.destination;
    if (!s || !d || !signsInAsApp(view)) return null;
    const accounts = view.plan.filter((x) => x.included && x.present && x.kind === "user");
    const last = (acc: string): LoginCheckRecord | undefined =>
      view.login_checks.filter((c) => c.account === acc && c.side === "destination").sort((x, y) => y.checked_at - x.checked_at)[0];
    const ok = accounts.filter((acc) => last(acc.source_address)?.status === "ok").length;
    const checked = accounts.filter((acc) => last(acc.source_address) !== undefined).length;
    return [
      error ? h("div", { class: "card error", role: "alert", "data-testid": "error", "data-code": error.code }, h("h2", {}, "That did not work"), h("p", { "data-testid": "error-message" }, error.message)) : null,
      h(
        "section",
        { class: "card", "data-testid": "oauth-mailboxes" },
        h("h2", { "data-testid": "oauth-heading" }, checked === 0 ? `Mailboxes on ${d.name}` : `Mailboxes on ${d.name} (${ok} of ${accounts.length} sign in)`),
        h("p", { class: "section-lead" }, "The check signs in to each mailbox and opens it, as the copy will."),
        h("p", { class: "sub", "data-testid": "oauth-app" }, `As your ${signInText(s)}`),
        h(
          "table",
          { class: "credentials-table" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Account"), h("th", { scope: "col" }, "Mailbox on the new host"), h("th", { scope: "col" }, "Check"))),
          h(
            "tbody",
            {},
            accounts.map((acc) => {
              const c = last(acc.source_address);
              return h(
                "tr",
                { "data-testid": `mailbox-${acc.login}` },
                h("td", { class: "mono" }, acc.source_address),
                h("td", { class: "mono" }, acc.dest_address),
                h(
                  "td",
                  { "data-testid": "check" },
                  c
                    ? h(
                        "span",
                        {},
                        h("span", { class: `badge ${c.status === "ok" ? "state-active" : "state-bad"}`, "data-testid": "check-status", "data-status": c.status }, STATUS_TEXT[c.status] ?? "Cannot sign in"),
                        c.advice ? h("span", { class: "sub", "data-testid": "check-advice" }, c.advice) : null,
                        h("span", { class: "sub" }, `Checked ${when(c.checked_at)}`),
                      )
                    : h("span", { class: "muted" }, "Not checked yet"),
                ),
              );
            }),
          ),
        ),
        h(
          "div",
          { class: "actions oauth-actions" },
          h("button", { type: "button", class: ok === accounts.length && checked > 0 ? "secondary" : "primary", "data-testid": "check-logins", disabled: busy, onclick: () => check() }, busy ? "Checking…" : checked === 0 ? "Check every mailbox" : "Check again"),
          h("button", { type: "button", class: "quiet", "data-testid": "edit-app", disabled: busy, onclick: () => editApp() }, s.kind === "microsoft_app" ? "Change the app's details…" : "Choose another key…"),
        ),
      ),
    ];
  }
}
