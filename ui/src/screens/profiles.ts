// Step 8, Profiles: one configuration profile per person, so Macs, iPhones and iPads set up the
// new mail account by themselves. A preview of one person's settings, the options, the export
// into a chosen folder, then the files written and "Show in Finder".
import type { AppView } from "../bindings/AppView";
import type { CommandError } from "../bindings/CommandError";
import type { Destination } from "../bindings/Destination";
import type { ExportReport } from "../bindings/ExportReport";
import type { PlannedAccount } from "../bindings/PlannedAccount";
import type { UserPrompt } from "../bindings/UserPrompt";
import type { Host } from "../ipc/types";
import { asCommandError } from "../ipc/types";
import { h } from "../lib/dom";
import { blockerList } from "./placeholder";
import { plural } from "../lib/format";

export const PROFILES_LEAD =
  "A profile is a small file a person opens on their Mac, iPhone or iPad: it sets up the new mail account for them. Ferry writes one per person into a folder you choose; it changes nothing on the servers.";

export interface ProfilesProps {
  destination: Destination | null;
  people: PlannedAccount[];
  previewFor: string | null;
  folder: string | null;
  withPasswords: boolean;
  imapToo: boolean;
  ewsOnMac: boolean;
  confirming: boolean;
  busy: boolean;
  report: ExportReport | null;
  error: CommandError | null;
}

export interface ProfilesActions {
  preview(address: string): void;
  chooseFolder(): void;
  setOption(option: "withPasswords" | "imapToo" | "ewsOnMac", on: boolean): void;
  exportProfiles(): void;
  confirmed(): void;
  cancelConfirm(): void;
  showInFinder(): void;
}

/** The people a profile is made for: included, present user accounts (as the export chooses). */
export function profilePeople(view: AppView): PlannedAccount[] {
  return view.plan.filter((a) => a.included && a.present && a.kind === "user");
}

const SECURITY: Record<string, string> = { tls: "TLS", startTls: "STARTTLS", plain: "no encryption" };

const ASKS: Record<UserPrompt, string> = {
  password: "their password on the new host",
  appPassword: "an app password made on the new host",
  hostSignIn: "to sign in with the new host in a browser window",
};

function accountType(d: Destination): string {
  switch (d.clientAccount.kind) {
    case "exchange":
      return `Exchange account (${d.clientAccount.host})`;
    case "google":
      return "Google account (signs in with Google)";
    default:
      return "IMAP mail account";
  }
}

/** Whether the host takes a password a profile could carry (not where it signs in only by OAuth). */
export function takesPasswords(d: Destination): boolean {
  return d.signIn.accepted.includes("password") || d.signIn.accepted.includes("appPassword");
}

function asksFor(d: Destination, withPasswords: boolean): string {
  const accepted = d.signIn.accepted;
  if (accepted.includes("oAuth2") && !accepted.includes("password")) return ASKS.hostSignIn;
  if (withPasswords) return "nothing: the password is inside the profile";
  if (accepted.includes("appPassword") && !accepted.includes("password")) {
    return d.signIn.appPasswordRequires ? `${ASKS.appPassword} (${d.signIn.appPasswordRequires})` : ASKS.appPassword;
  }
  return ASKS.password;
}

function loginName(d: Destination, address: string): string {
  return d.login === "localPart" ? address.split("@")[0] : address;
}

export function profilesBody(p: ProfilesProps, a: ProfilesActions): (HTMLElement | null)[] {
  const d = p.destination;
  if (!d) {
    return [h("div", { class: "card", "data-testid": "profiles-empty" }, h("h2", {}, "No new mail host yet"), h("p", {}, "Choose the new mail host first (step 2): the profiles point people's devices at it."))];
  }
  if (p.people.length === 0) {
    return [h("div", { class: "card", "data-testid": "profiles-empty" }, h("h2", {}, "Nobody to make a profile for"), h("p", {}, "No person's account is included in the move. Include accounts in step 2, Destination."))];
  }
  const person = p.people.find((x) => x.source_address === p.previewFor) ?? p.people[0];
  return [
    p.error
      ? h("div", { class: "card error", role: "alert", "data-testid": "error", "data-code": p.error.code }, h("h2", {}, "The profiles could not be written"), h("p", { "data-testid": "error-message" }, p.error.message))
      : null,
    preview(d, person, p, a),
    options(d, p, a),
    p.confirming
      ? h(
          "div",
          { class: "card confirm", role: "alertdialog", "data-testid": "confirm-passwords" },
          h("h2", {}, "Write the passwords into the files?"),
          h("p", {}, `Each of the ${plural(p.people.length, "profile")} will hold that person's password in clear. Anyone who gets a file can read their mail. Hand each file only to its person, and delete the folder once the devices are set up.`),
          h(
            "div",
            { class: "actions" },
            h("button", { type: "button", class: "primary", "data-testid": "confirm-yes", onclick: () => a.confirmed() }, "Write them with passwords"),
            h("button", { type: "button", class: "secondary", "data-testid": "confirm-no", onclick: () => a.cancelConfirm() }, "Cancel"),
          ),
        )
      : null,
    p.report ? written(p.report, a) : null,
  ];
}

function preview(d: Destination, person: PlannedAccount, p: ProfilesProps, a: ProfilesActions): HTMLElement {
  return h(
    "section",
    { class: "card", "data-testid": "profile-preview" },
    h("h2", {}, "What a profile sets up"),
    h(
      "label",
      { class: "person-picker" },
      "Show the profile of",
      h(
        "select",
        { "data-testid": "preview-person", onchange: (e: Event) => a.preview((e.target as HTMLSelectElement).value) },
        p.people.map((x) => h("option", { value: x.source_address, selected: x.source_address === person.source_address }, x.dest_address)),
      ),
    ),
    h(
      "dl",
      { class: "settings" },
      h("dt", {}, "Account"),
      h("dd", { "data-testid": "preview-type" }, accountType(d)),
      h("dt", {}, "Address"),
      h("dd", { class: "mono", "data-testid": "preview-address" }, person.dest_address),
      d.clientAccount.kind === "imap"
        ? [
            h("dt", {}, "Incoming mail"),
            h("dd", { class: "mono", "data-testid": "preview-imap" }, `${d.imap.host}:${d.imap.port} (${SECURITY[d.imap.security] ?? d.imap.security})`),
            h("dt", {}, "Outgoing mail"),
            h("dd", { class: "mono", "data-testid": "preview-smtp" }, `${d.smtp.host}:${d.smtp.port} (${SECURITY[d.smtp.security] ?? d.smtp.security})`),
            h("dt", {}, "User name"),
            h("dd", { class: "mono" }, loginName(d, person.dest_address)),
          ]
        : null,
      h("dt", {}, "They will be asked for"),
      h("dd", { "data-testid": "preview-asks" }, asksFor(d, p.withPasswords)),
    ),
    d.needs.length > 0 ? h("div", { class: "sub", "data-testid": "preview-needs" }, `What ${d.name} needs from you:`, h("ul", { class: "notes" }, d.needs.map((n) => h("li", {}, n)))) : null,
  );
}

function options(d: Destination, p: ProfilesProps, a: ProfilesActions): HTMLElement {
  const check = (option: "withPasswords" | "imapToo" | "ewsOnMac", on: boolean, disabled: boolean, label: string, explain: string) =>
    h(
      "label",
      { class: `option${disabled ? " disabled" : ""}` },
      h("input", { type: "checkbox", "data-testid": `option-${option}`, checked: on, disabled, onchange: (e: Event) => a.setOption(option, (e.target as HTMLInputElement).checked) }),
      ` ${label}`,
      h("span", { class: "sub" }, explain),
    );
  const passwordsPossible = takesPasswords(d);
  return h(
    "section",
    { class: "card", "data-testid": "profile-options" },
    h("h2", {}, `Export ${plural(p.people.length, "profile")}`),
    check(
      "withPasswords",
      p.withPasswords && passwordsPossible,
      !passwordsPossible,
      "Put each person's password into their profile",
      passwordsPossible
        ? "Nobody has to type a password, but each file then holds one in clear: anyone who gets the file can read that person's mail."
        : `${d.name} does not take a password in a profile: people sign in on their device.`,
    ),
    d.clientAccount.kind === "google" ? check("imapToo", p.imapToo, false, "Also add an IMAP account on iPhones and iPads", "For devices where the Google account is not wanted; it uses the same sign-in.") : null,
    d.clientAccount.kind === "exchange"
      ? check("ewsOnMac", p.ewsOnMac, false, "Also add an Exchange account on Macs", "Only if your Microsoft 365 tenant still allows Exchange Web Services: Microsoft stops them on 1 April 2027, after which these accounts stop working.")
      : null,
    p.withPasswords && passwordsPossible ? h("p", { class: "sub bad", "data-testid": "password-warning" }, "The files will hold passwords in clear. Hand each only to its person.") : null,
    h(
      "div",
      { class: "source-line" },
      h("span", { class: "mono", "data-testid": "export-folder" }, p.folder ?? "No folder chosen yet"),
      h("button", { type: "button", class: "secondary", "data-testid": "choose-folder", disabled: p.busy, onclick: () => a.chooseFolder() }, "Choose…"),
    ),
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        { type: "button", class: "primary", "data-testid": "export", disabled: p.busy || p.folder === null || p.confirming, onclick: () => a.exportProfiles() },
        p.busy ? "Writing…" : p.report ? "Export again" : "Export the profiles",
      ),
    ),
  );
}

function written(r: ExportReport, a: ProfilesActions): HTMLElement {
  return h(
    "section",
    { class: "card ok", "data-testid": "profiles-written" },
    h("h2", {}, `${plural(r.profiles.length, "profile")} written`),
    h("p", { class: "mono sub" }, r.outDir),
    r.containsPasswords ? h("p", { class: "bad", "data-testid": "contains-passwords" }, "These files hold passwords in clear: hand each only to its person, then delete them.") : null,
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Person"), h("th", { scope: "col" }, "For"), h("th", { scope: "col" }, "File"), h("th", { scope: "col" }, "They will be asked for"))),
      h(
        "tbody",
        {},
        r.profiles.map((f) =>
          h(
            "tr",
            { "data-testid": "profile-file" },
            h("td", { class: "mono" }, f.address),
            h("td", {}, f.target === "mac" ? "Macs" : f.target === "ios" ? "iPhones and iPads" : "Macs, iPhones and iPads"),
            h("td", { class: "mono" }, f.file),
            h("td", {}, f.asksFor.length === 0 ? "nothing" : f.asksFor.map((x) => ASKS[x]).join(", ")),
          ),
        ),
      ),
    ),
    r.notes.length > 0 ? h("ul", { class: "notes", "data-testid": "export-notes" }, r.notes.map((n) => h("li", {}, n))) : null,
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", "data-testid": "show-in-finder", onclick: () => a.showInFinder() }, "Show in Finder")),
  );
}

/** The screen's own state and its calls to the host; the wizard asks it for the body. */
export class ProfilesScreen {
  private previewFor: string | null = null;
  private folder: string | null = null;
  private withPasswords = false;
  private imapToo = false;
  private ewsOnMac = false;
  private confirming = false;
  private busy = false;
  private report: ExportReport | null = null;
  private error: CommandError | null = null;

  constructor(
    private readonly host: Host,
    private readonly render: () => void,
  ) {}

  body(view: AppView, blockers: string[] = []): (HTMLElement | null)[] {
    return [blockerList(blockers), ...profilesBody(
      {
        destination: view.destination,
        people: profilePeople(view),
        previewFor: this.previewFor,
        folder: this.folder,
        withPasswords: this.withPasswords,
        imapToo: this.imapToo,
        ewsOnMac: this.ewsOnMac,
        confirming: this.confirming,
        busy: this.busy,
        report: this.report,
        error: this.error,
      },
      {
        preview: (address) => this.update(() => (this.previewFor = address)),
        chooseFolder: () => void this.chooseFolder(),
        setOption: (option, on) => this.update(() => (this[option] = on)),
        exportProfiles: () => {
          if (this.withPasswords && view.destination && takesPasswords(view.destination)) this.update(() => (this.confirming = true));
          else void this.exportNow(view);
        },
        confirmed: () => {
          this.confirming = false;
          void this.exportNow(view);
        },
        cancelConfirm: () => this.update(() => (this.confirming = false)),
        showInFinder: () => void this.guard(() => this.host.openRecorded("profiles_folder")),
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

  private async chooseFolder(): Promise<void> {
    await this.guard(async () => {
      const picked = await this.host.chooseOutputFolder();
      if (picked !== null) this.folder = picked;
    });
  }

  private async exportNow(view: AppView): Promise<void> {
    if (this.folder === null) return;
    const passwords = this.withPasswords && view.destination !== null && takesPasswords(view.destination);
    this.busy = true;
    this.render();
    await this.guard(async () => {
      this.report = await this.host.exportProfiles({ out_dir: this.folder!, with_passwords: passwords, imap_with_native: this.imapToo, ews_on_mac: this.ewsOnMac, organization_name: null });
    });
    this.busy = false;
    this.render();
  }
}
