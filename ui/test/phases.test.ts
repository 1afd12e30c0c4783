// Profiles, Quarantine and Decommission against the fake host: what each shows before, during
// and after its command, the confirmations, and the errors.
import { beforeEach, describe, expect, it } from "vitest";
import type { ChecklistItem } from "../src/bindings/ChecklistItem";
import type { DecommissionScreen } from "../src/bindings/DecommissionScreen";
import type { Destination } from "../src/bindings/Destination";
import type { ExportReport } from "../src/bindings/ExportReport";
import type { QuarantineArchive } from "../src/bindings/QuarantineArchive";
import type { ResolvedMessage } from "../src/bindings/ResolvedMessage";
import type { Review } from "../src/bindings/Review";
import { decommissionBody, quietText } from "../src/screens/decommission";
import { Wizard } from "../src/wizard/app";
import { FakeHost, discoveredView, generic } from "./fixtures";

let root: HTMLElement;
let host: FakeHost;
const q = (sel: string) => root.querySelector<HTMLElement>(sel);
const tid = (id: string) => q(`[data-testid="${id}"]`);
const all = (id: string) => Array.from(root.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`));
const flush = () => new Promise((r) => setTimeout(r, 20));
const text = (id: string) => tid(id)?.textContent ?? null;

beforeEach(() => {
  document.body.innerHTML = "";
  root = document.createElement("div");
  document.body.append(root);
  host = new FakeHost();
});

async function open(phase: string, destination: Destination | null = generic("imap.example.net", 993)): Promise<Wizard> {
  host.view = { ...discoveredView({ kind: "copy", root: "/srv/copy" }), destination };
  const wizard = await Wizard.start(root, host);
  tid(`phase-${phase}`)!.click();
  await flush();
  host.calls = [];
  return wizard;
}

function exported(withPassword: boolean): ExportReport {
  return {
    outDir: "/out/profiles",
    profiles: [
      { user: "jdoe", address: "john@example.com", target: "all", file: "john@example.com.mobileconfig", payloadTypes: ["com.apple.mail.managed"], containsPassword: withPassword, asksFor: withPassword ? [] : ["password"] },
      { user: "asmith", address: "asmith@example.com", target: "all", file: "asmith@example.com.mobileconfig", payloadTypes: ["com.apple.mail.managed"], containsPassword: withPassword, asksFor: withPassword ? [] : ["password"] },
    ],
    manifest: "/out/profiles/manifest.json",
    combined: "/out/profiles/all.mobileconfig",
    containsPasswords: withPassword,
    signedBy: null,
    notes: ["People open the file and approve it in System Settings."],
  };
}

describe("Profiles", () => {
  it("asks for the new host first when none is chosen", async () => {
    await open("profiles", null);
    expect(tid("profiles-empty")!.textContent).toBe("No new mail host yetChoose the new mail host first (step 2): the profiles point people's devices at it.");
    expect(tid("export")).toBeNull();
  });

  it("previews one person's settings, and another's when picked", async () => {
    await open("profiles");
    expect(text("preview-type")).toBe("IMAP mail account");
    expect(text("preview-address")).toBe("john@example.com");
    expect(text("preview-imap")).toBe("imap.example.net:993 (TLS)");
    expect(text("preview-smtp")).toBe("imap.example.net:587 (STARTTLS)");
    expect(text("preview-asks")).toBe("their password on the new host");
    expect(text("preview-needs")).toBe("What imap.example.net needs from you:The host name of its IMAP server");
    const select = tid("preview-person") as HTMLSelectElement;
    select.value = "asmith@example.com";
    select.dispatchEvent(new Event("change"));
    await flush();
    expect(text("preview-address")).toBe("asmith@example.com");
  });

  it("exports into the chosen folder, then lists the files and notes and shows the folder in Finder", async () => {
    await open("profiles");
    expect((tid("export") as HTMLButtonElement).disabled).toBe(true);
    host.outputFolder = "/out/profiles";
    tid("choose-folder")!.click();
    await flush();
    expect(text("export-folder")).toBe("/out/profiles");
    host.exportResult = exported(false);
    tid("export")!.click();
    await flush();
    expect(host.calls).toContain('export_profiles {"out_dir":"/out/profiles","with_passwords":false,"imap_with_native":false,"ews_on_mac":false,"organization_name":null}');
    expect(all("profile-file").map((r) => r.textContent)).toEqual([
      "john@example.comMacs, iPhones and iPadsjohn@example.com.mobileconfigtheir password on the new host",
      "asmith@example.comMacs, iPhones and iPadsasmith@example.com.mobileconfigtheir password on the new host",
    ]);
    expect(text("export-notes")).toBe("People open the file and approve it in System Settings.");
    expect(tid("contains-passwords")).toBeNull();
    tid("show-in-finder")!.click();
    await flush();
    expect(host.calls).toContain("open profiles_folder");
  });

  it("with passwords: warns, asks first, and exports only when confirmed", async () => {
    await open("profiles");
    host.outputFolder = "/out/p";
    tid("choose-folder")!.click();
    await flush();
    const box = tid("option-withPasswords") as HTMLInputElement;
    box.checked = true;
    box.dispatchEvent(new Event("change"));
    await flush();
    expect(text("password-warning")).toBe("The files will hold passwords in clear. Hand each only to its person.");
    expect(text("preview-asks")).toBe("nothing: the password is inside the profile");
    tid("export")!.click();
    await flush();
    expect(tid("confirm-passwords")).not.toBeNull();
    tid("confirm-no")!.click();
    await flush();
    expect(host.calls.filter((c) => c.startsWith("export_profiles"))).toEqual([]);
    tid("export")!.click();
    await flush();
    host.exportResult = exported(true);
    tid("confirm-yes")!.click();
    await flush();
    expect(host.calls.filter((c) => c.startsWith("export_profiles"))).toEqual(['export_profiles {"out_dir":"/out/p","with_passwords":true,"imap_with_native":false,"ews_on_mac":false,"organization_name":null}']);
    expect(text("contains-passwords")).toBe("These files hold passwords in clear: hand each only to its person, then delete them.");
  });

  it("refuses passwords where the host signs in only in the browser, and explains EWS's end on Microsoft 365", async () => {
    const m365 = { ...generic("outlook.office365.com", 993), preset: "microsoft365", name: "Microsoft 365", clientAccount: { kind: "exchange", host: "outlook.office365.com" }, signIn: { accepted: ["oAuth2"], appPasswordRequires: null, appPasswordPage: null } } as unknown as Destination;
    await open("profiles", m365);
    expect((tid("option-withPasswords") as HTMLInputElement).disabled).toBe(true);
    expect(text("preview-asks")).toBe("to sign in with the new host in a browser window");
    expect(q('[data-testid="profile-options"]')!.textContent).toContain("Microsoft stops them on 1 April 2027");
    expect(text("preview-type")).toBe("Exchange account (outlook.office365.com)");
  });

  it("shows the host's error in the person's words", async () => {
    await open("profiles");
    host.outputFolder = "/nope";
    tid("choose-folder")!.click();
    await flush();
    host.failNext = { code: "not_ready", message: "Choose a folder for the profiles." };
    tid("export")!.click();
    await flush();
    expect(text("error-message")).toBe("Choose a folder for the profiles.");
    expect(tid("profiles-written")).toBeNull();
  });
});

function archive(): QuarantineArchive {
  return {
    archived_at: "2026-12-04T18:00:00Z",
    mailboxes: [
      { label: "junkmail", kind: "training", destination: "/out/q/junkmail.mbox", found: 4, added: 4, already_there: 0, failed: 0, bytes_added: 4096 },
      { label: "amavis virus", kind: "virus", destination: "/out/q/virus.mbox", found: 2, added: 1, already_there: 0, failed: 1, bytes_added: 1024 },
    ],
    warnings: ["virus/badh-1: could not be read"],
  };
}

describe("Quarantine", () => {
  it("lists the training mailboxes discovery found", async () => {
    await open("quarantine");
    expect(tid("training-junkmail")!.textContent).toBe("junkmailTaught as junk43.9 KiB");
    expect((tid("archive") as HTMLButtonElement).disabled).toBe(true);
  });

  it("archives to mbox files in the chosen folder and shows each mailbox's result", async () => {
    await open("quarantine");
    host.outputFolder = "/out/q";
    tid("choose-folder")!.click();
    await flush();
    host.archiveResult = archive();
    tid("archive")!.click();
    await flush();
    expect(host.calls).toContain('archive_quarantine {"to":"mbox","folder":"/out/q"}');
    expect(all("archived-mailbox").map((r) => r.textContent)).toEqual([
      "junkmailJunk-filter training/out/q/junkmail.mbox444.0 KiB00",
      "amavis virusHeld back: virus/out/q/virus.mbox211.0 KiB01",
    ]);
    expect(text("quarantine-result")!.startsWith("Some messages could not be archived")).toBe(true);
    expect(text("archive-warnings")).toBe("virus/badh-1: could not be read");
    tid("show-in-finder")!.click();
    await flush();
    expect(host.calls).toContain("open quarantine_folder");
  });

  it("offers only people's accounts as the IMAP target, not the training mailboxes", async () => {
    host.view = { ...discoveredView({ kind: "copy", root: "/srv/copy" }), destination: generic("imap.example.net", 993) };
    host.view.plan = [...host.view.plan, { ...host.view.plan[0], source_address: "junkmail@example.com", login: "junkmail", kind: "junk_training" }];
    await Wizard.start(root, host);
    tid("phase-quarantine")!.click();
    await flush();
    tid("where-imap")!.dispatchEvent(new Event("change"));
    await flush();
    expect(Array.from((tid("imap-account") as HTMLSelectElement).options).map((o) => o.value)).toEqual(["john@example.com", "asmith@example.com", "bmueller@example.com"]);
  });

  it("archives to a folder of one planned account on the new host", async () => {
    await open("quarantine");
    tid("where-imap")!.dispatchEvent(new Event("change"));
    await flush();
    const select = tid("imap-account") as HTMLSelectElement;
    select.value = "asmith@example.com";
    select.dispatchEvent(new Event("change"));
    await flush();
    const folder = tid("base-folder") as HTMLInputElement;
    folder.value = "Archiv/Quarantäne";
    folder.dispatchEvent(new Event("input"));
    host.archiveResult = { ...archive(), mailboxes: [], warnings: [] };
    tid("archive")!.click();
    await flush();
    expect(host.calls).toContain('archive_quarantine {"to":"imap","account":"asmith@example.com","base_folder":"Archiv/Quarantäne"}');
    expect(q('[data-testid="quarantine-result"] h2')!.textContent).toBe("Nothing to archive: the old server kept no mail aside");
  });
});

function item(id: ChecklistItem["id"], state: ChecklistItem["state"], title: string, todo: string | null = null): ChecklistItem {
  return { id, state, title, detail: `${title}: detail`, todo };
}

function screen(cloneDone: boolean, reportHtml: string | null = null): DecommissionScreen {
  const items = [
    item("accounts_final_synced", "done", "Every account final-synced and verified"),
    item("old_server_quiet", "not_yet", "No mail at the old server for 72 hours", "Wait, then check again."),
    item("server_clone_kept", cloneDone ? "done" : "not_yet", "A clone of the old server is kept", cloneDone ? null : "Make a clone, then confirm it here."),
  ];
  return {
    view: { checklist: { checked_at: "2026-12-04T18:00:00Z", items, ready: false }, review: null, report_html: reportHtml, report_json: reportHtml ? reportHtml.replace(".html", ".json") : null },
    clock: { quiet_since: 1_000_000, checked_at: 1_000_000 + 3600 * 30, quiet_hours: 72, quiet: false },
  };
}

describe("Decommission", () => {
  it("reads the clock as a person says it", () => {
    expect(quietText(59)).toBe("0 minutes");
    expect(quietText(60 * 42)).toBe("42 minutes");
    expect(quietText(3600 * 5 + 59)).toBe("5 hours");
    expect(quietText(86_400 * 2 + 3600 * 6)).toBe("2 days 6 hours");
    expect(quietText(86_400)).toBe("1 day");
  });

  it("shows the checklist with each item's state and what to do, and the quiet clock", async () => {
    await open("decommission");
    expect(text("readiness")).toBe("Is the old server ready to be switched off?");
    host.decommissionResults = [screen(false)];
    tid("check-readiness")!.click();
    await flush();
    // the board follows the check (the sidebar's state)
    expect(host.calls).toEqual(["decommission false", "app_view"]);
    expect(text("readiness")).toBe("Not yet: 2 items to do");
    expect(all("item-state").map((e) => e.textContent)).toEqual(["Done", "Not yet", "Not yet"]);
    expect(q('[data-testid="item-old_server_quiet"] [data-testid="item-todo"]')!.textContent).toBe("To do: Wait, then check again.");
    expect(q('[data-testid="item-accounts_final_synced"] [data-testid="item-todo"]')).toBeNull();
    // counted to the check's time (the app's clock), not the web view's
    expect(text("quiet-for")).toBe("1 day 6 hours");
  });

  it("the clock counts from the quiet start to now", () => {
    const el = document.createElement("div");
    el.append(...(decommissionBody({ screen: screen(false), now: 1_000_000 + 3600 * 50, confirmingClone: false, busy: false, error: null }, { check() {}, markClone() {}, confirmedClone() {}, cancelClone() {}, writeReport() {}, openReport() {} }).filter((x) => x !== null) as HTMLElement[]));
    expect(el.querySelector('[data-testid="quiet-for"]')!.textContent).toBe("2 days 2 hours");
    expect(el.querySelector('[data-testid="quiet-needed"]')!.textContent).toBe("22 hours to go: the old server should get no mail for 72 hours before it is switched off. If mail arrives, the clock starts again.");
    expect(el.querySelector<HTMLElement>('[data-testid="quiet-bar"]')!.dataset.percent).toBe("69");
  });

  it("the clock does not say done while the checklist's item is not (quiet counts once DNS is all new)", () => {
    const el = document.createElement("div");
    const blocked = screen(false);
    blocked.view.checklist.items[1] = item("old_server_quiet", "blocked", "No mail at the old server for 72 hours", "First get DNS to point only to the new host.");
    el.append(...(decommissionBody({ screen: blocked, now: 1_000_000 + 3600 * 100, confirmingClone: false, busy: false, error: null }, { check() {}, markClone() {}, confirmedClone() {}, cancelClone() {}, writeReport() {}, openReport() {} }).filter((x) => x !== null) as HTMLElement[]));
    const card = el.querySelector<HTMLElement>('[data-testid="quiet-clock"]')!;
    expect(card.classList.contains("ok")).toBe(false);
    expect(el.querySelector('[data-testid="quiet-for"]')!.textContent).toBe("4 days 4 hours");
    expect(el.querySelector('[data-testid="quiet-needed"]')!.textContent).toBe("Quiet long enough, but it does not count yet. First get DNS to point only to the new host.");
  });

  it("marks the clone kept only after the confirmation, then checks again", async () => {
    await open("decommission");
    host.decommissionResults = [screen(false)];
    tid("check-readiness")!.click();
    await flush();
    tid("mark-clone")!.click();
    await flush();
    expect(tid("confirm-clone")).not.toBeNull();
    tid("confirm-no")!.click();
    await flush();
    expect(host.calls).toEqual(["decommission false", "app_view"]);
    tid("mark-clone")!.click();
    await flush();
    host.decommissionResults = [screen(true)];
    tid("confirm-yes")!.click();
    await flush();
    expect(host.calls).toEqual(["decommission false", "app_view", "mark_clone_kept", "decommission false", "app_view"]);
    expect(q('[data-testid="item-server_clone_kept"]')!.dataset.state).toBe("done");
    expect(tid("mark-clone")).toBeNull();
  });

  it("writes the final report and opens it", async () => {
    await open("decommission");
    host.decommissionResults = [screen(false)];
    tid("check-readiness")!.click();
    await flush();
    expect(tid("open-report")).toBeNull();
    host.decommissionResults = [screen(false, "/data/final-report.html")];
    tid("write-report")!.click();
    await flush();
    expect(text("report-path")).toBe("/data/final-report.html");
    tid("open-report")!.click();
    await flush();
    expect(host.calls).toEqual(["decommission false", "app_view", "decommission true", "app_view", "open final_report"]);
  });

  it("shows an error the host gives when opening the report", async () => {
    await open("decommission");
    host.decommissionResults = [screen(false, "/data/final-report.html")];
    tid("check-readiness")!.click();
    await flush();
    host.failNext = { code: "not_found", message: "No final report yet: click Write the final report first." };
    tid("open-report")!.click();
    await flush();
    expect(text("error-message")).toBe("No final report yet: click Write the final report first.");
  });
});

describe("Review: keeping a message the new host refuses for good", () => {
  const refused = { account: "john@example.com", folder: "Rechnungen/2018", uid: 7, key: "7", size: 2048, subject: "Invoice 42", date: "2026-11-02", class: "refused", reason: "Message too large", advice: "Deliver it wrapped, or save it to an mbox file.", can_resolve: ["wrapped", "mbox"] };
  const retryable = { ...refused, key: "8", subject: "Later", class: "connection", reason: "connection lost", advice: "Run the sync again.", can_resolve: [] };
  function reviewWith(failures: unknown[]): Review {
    return {
      accounts: [{ account: "john@example.com", folders: [], source_messages: 3, source_bytes: 3000, dest_messages: 1, dest_bytes: 1000, missing: 2, failures, resolved: [], resolved_counts: { wrapped: 0, mbox: 0 }, error: null }],
      source_messages: 3,
      source_bytes: 3000,
      dest_messages: 1,
      dest_bytes: 1000,
      missing: 2,
      failed: failures.length,
      resolved: { wrapped: 0, mbox: 0 },
      resolved_text: "",
      ok: false,
    } as unknown as Review;
  }

  it("offers the ways only for a refused message, asks first, then keeps it and checks again", async () => {
    await open("review");
    host.reviewResult = reviewWith([refused, retryable]);
    tid("check-review")!.click();
    await flush();
    const rows = all("failure");
    expect(rows.map((r) => r.querySelectorAll('button[data-testid^="resolve-"]').length)).toEqual([2, 0]);
    (rows[0].querySelector('[data-testid="resolve-wrapped"]') as HTMLElement).click();
    await flush();
    expect(q('[data-testid="confirm-resolve"] h2')!.textContent).toBe("Deliver it wrapped?");
    expect(q('[data-testid="confirm-resolve"] p')!.textContent).toBe(
      'The new host refuses "Invoice 42" in Rechnungen/2018 of john@example.com. Ferry puts a short message in its place on the new host, saying why, with the original attached unchanged. The person can open the attachment, or save it.',
    );
    tid("confirm-no")!.click();
    await flush();
    expect(host.calls.filter((c) => c.startsWith("resolve"))).toEqual([]);
    (all("failure")[0].querySelector('[data-testid="resolve-mbox"]') as HTMLElement).click();
    await flush();
    host.resolveResult = { ...refused, class: "refused", how: "mbox", mbox_path: "/keep/refused.mbox", at: "2026-12-04T18:30:00Z" } as unknown as ResolvedMessage;
    host.reviewResult = reviewWith([retryable]);
    tid("confirm-yes")!.click();
    await flush();
    expect(host.calls.filter((c) => c.startsWith("resolve") || c === "review")).toEqual(["review", 'resolve john@example.com {"folder":"Rechnungen/2018","key":"7"} mbox', "review"]);
    expect(text("resolved")).toBe("Saved to /keep/refused.mbox.");
    expect(all("failure").length).toBe(1);
  });

  it("a closed save dialog keeps nothing and says nothing; a refusal is shown in words", async () => {
    await open("review");
    host.reviewResult = reviewWith([refused]);
    tid("check-review")!.click();
    await flush();
    tid("resolve-mbox")!.click();
    await flush();
    host.resolveResult = null;
    tid("confirm-yes")!.click();
    await flush();
    expect(tid("resolved")).toBeNull();
    expect(tid("confirm-resolve")).toBeNull();
    tid("resolve-wrapped")!.click();
    await flush();
    host.failNext = { code: "busy", message: "A copy is running: wait for it to end, then keep the message." };
    tid("confirm-yes")!.click();
    await flush();
    expect(q('[data-testid="resolve-error"] p')!.textContent).toBe("A copy is running: wait for it to end, then keep the message.");
  });
});
