// Microsoft 365 and Google Workspace against the fake host: what the admin prepares, the app's
// details sent one way (the client secret never comes back, nor shows again), errors in words,
// and the Credentials screen that checks every mailbox instead of asking for passwords.
import { beforeEach, describe, expect, it } from "vitest";
import type { CheckReport } from "../src/bindings/CheckReport";
import type { Destination } from "../src/bindings/Destination";
import { OAUTH_CREDENTIALS_LEAD, PREPARE, stepText } from "../src/screens/oauth";
import { Wizard } from "../src/wizard/app";
import { FakeHost, generic } from "./fixtures";

let root: HTMLElement;
let host: FakeHost;
const q = (sel: string) => root.querySelector<HTMLElement>(sel);
const tid = (id: string) => q(`[data-testid="${id}"]`);
const flush = () => new Promise((r) => setTimeout(r, 20));
const SECRET = "Qx8~app.secret_value-7f3aZ";
const APP = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";

function typeInto(el: HTMLElement | null, value: string) {
  const input = el as HTMLInputElement;
  input.value = value;
  input.dispatchEvent(new Event("input"));
}

const preset = (id: "microsoft365" | "googleWorkspace", name: string, imap: string) => ({ ...generic(imap, 993), preset: id, name, needs: ["An admin"] }) as unknown as Destination;

async function discovered(): Promise<Wizard> {
  host.destinationPresets = async () => [preset("googleWorkspace", "Google Workspace", "imap.gmail.com"), preset("microsoft365", "Microsoft 365", "outlook.office365.com"), generic("", 993)];
  await host.discover({ kind: "copy", root: "/srv/copy" });
  const w = await Wizard.start(root, host);
  host.calls = [];
  return w;
}

beforeEach(() => {
  document.body.innerHTML = "";
  root = document.createElement("div");
  document.body.append(root);
  host = new FakeHost();
});

describe("Destination: Microsoft 365", () => {
  it("shows what to prepare, sends the app's details and its secret one way, and names the app after", async () => {
    await discovered();
    expect(tid("oauth-microsoft365")).toBeNull();
    tid("preset-microsoft365")!.click();
    const steps = Array.from(root.querySelectorAll('[data-testid="prepare-steps"] li')).map((li) => li.textContent);
    expect(steps).toEqual(PREPARE.microsoft365.steps.map(stepText));
    expect(Array.from(root.querySelectorAll('[data-testid="prepare-steps"] code')).map((c) => c.textContent)).toEqual([
      "New-ServicePrincipal -AppId <application ID> -ObjectId <object ID>",
      "Add-MailboxPermission -Identity <mailbox> -User <service principal ID> -AccessRights FullAccess",
    ]);
    expect(steps.some((s) => s!.includes("IMAP.AccessAsApp") && s!.includes("Grant admin consent"))).toBe(true);
    expect(steps.some((s) => s!.includes("Add-MailboxPermission"))).toBe(true);
    expect((tid("client-secret") as HTMLInputElement).type).toBe("password");
    expect(tid("certificate-file")).toBeNull();
    expect(tid("oauth-footnote")!.textContent).toBe(
      "Ferry keeps the secret or the certificate's key in this computer's password store and never shows it again; the migration file holds only the tenant and the application ID.",
    );
    typeInto(tid("tenant"), "contoso.onmicrosoft.com");
    typeInto(tid("client-id"), APP);
    typeInto(tid("client-secret"), SECRET);
    tid("save-destination")!.click();
    await flush();
    expect(host.calls).toEqual([`oauth_destination {"kind":"microsoft_secret","tenant":"contoso.onmicrosoft.com","client_id":"${APP}"}`]);
    expect(host.receivedClientSecret).toBe(SECRET);
    expect(tid("destination-name")!.textContent).toBe("Microsoft 365");
    expect(tid("oauth-sign-in")!.textContent).toBe(`Ferry signs in as your app ${APP} in tenant contoso.onmicrosoft.com, with its client secret (kept in the password store)`);
    // the secret is in neither the screen nor the view
    expect(root.innerHTML).not.toContain(SECRET);
    expect(JSON.stringify(host.view)).not.toContain(SECRET);
    // Change host… starts from the app's details; the secret field is empty and says it is stored
    tid("change-destination")!.click();
    tid("preset-microsoft365")!.click();
    expect((tid("tenant") as HTMLInputElement).value).toBe("contoso.onmicrosoft.com");
    expect((tid("client-id") as HTMLInputElement).value).toBe(APP);
    expect((tid("client-secret") as HTMLInputElement).value).toBe("");
    expect((tid("client-secret") as HTMLInputElement).placeholder).toBe("Stored (type to replace)");
  });

  it("shows Rust's error in words and keeps what was typed", async () => {
    await discovered();
    tid("preset-microsoft365")!.click();
    typeInto(tid("tenant"), "contoso");
    typeInto(tid("client-id"), APP);
    typeInto(tid("client-secret"), SECRET);
    const message =
      "\"contoso\" is not a tenant. Enter the organisation's primary domain (for example contoso.onmicrosoft.com) or its Directory (tenant) ID, which looks like 00001111-aaaa-2222-bbbb-3333cccc4444.";
    host.failNext = { code: "invalid", message };
    tid("save-destination")!.click();
    await flush();
    expect(tid("error-message")!.textContent).toBe(message);
    expect(tid("error")!.dataset.code).toBe("invalid");
    expect((tid("tenant") as HTMLInputElement).value).toBe("contoso");
    expect(tid("destination-chosen")).toBeNull();
  });

  it("takes a certificate and its key as files chosen (or typed), and sends no secret", async () => {
    await discovered();
    tid("preset-microsoft365")!.click();
    typeInto(tid("tenant"), "72f988bf-86f1-41af-91ab-2d7cd011db47");
    typeInto(tid("client-id"), APP);
    const radio = tid("credential-certificate") as HTMLInputElement;
    radio.checked = true;
    radio.dispatchEvent(new Event("change"));
    await flush();
    expect(tid("client-secret")).toBeNull();
    host.oauthFile = "/Users/admin/ferry-app.crt";
    tid("certificate-file-choose")!.click();
    await flush();
    expect(host.calls).toEqual(["choose_oauth_file certificate"]);
    expect((tid("certificate-file") as HTMLInputElement).value).toBe("/Users/admin/ferry-app.crt");
    // a cancelled chooser changes nothing
    host.oauthFile = null;
    tid("key-file-choose")!.click();
    await flush();
    expect((tid("key-file") as HTMLInputElement).value).toBe("");
    typeInto(tid("key-file"), "/Users/admin/ferry-app.key");
    host.calls = [];
    tid("save-destination")!.click();
    await flush();
    expect(host.calls).toEqual([
      `oauth_destination {"kind":"microsoft_certificate","tenant":"72f988bf-86f1-41af-91ab-2d7cd011db47","client_id":"${APP}","certificate_file":"/Users/admin/ferry-app.crt","key_file":"/Users/admin/ferry-app.key"}`,
    ]);
    expect(host.receivedClientSecret).toBeNull();
    expect(tid("oauth-sign-in")!.textContent).toBe(`Ferry signs in as your app ${APP} in tenant 72f988bf-86f1-41af-91ab-2d7cd011db47, with its certificate (kept in the password store)`);
  });
});

describe("Destination: Google Workspace", () => {
  it("asks for the service account's JSON key and names the account after", async () => {
    await discovered();
    tid("preset-googleWorkspace")!.click();
    const steps = Array.from(root.querySelectorAll('[data-testid="prepare-steps"] li')).map((li) => li.textContent);
    expect(steps).toEqual(PREPARE.googleWorkspace.steps.map(stepText));
    expect(steps.some((s) => s!.includes("Manage Domain Wide Delegation") && s!.includes("https://mail.google.com/"))).toBe(true);
    expect(tid("tenant")).toBeNull();
    expect(tid("oauth-footnote")!.textContent).toBe(
      "Ferry keeps the key in this computer's password store and never shows it again; the migration file holds only the service account's address.",
    );
    host.oauthFile = "/Users/admin/Downloads/ferry-test-0123.json";
    tid("service-account-key-choose")!.click();
    await flush();
    expect(host.calls).toEqual(["choose_oauth_file service_account_key"]);
    tid("save-destination")!.click();
    await flush();
    expect(host.calls[1]).toBe('oauth_destination {"kind":"google_service_account","key_file":"/Users/admin/Downloads/ferry-test-0123.json"}');
    expect(tid("oauth-sign-in")!.textContent).toBe("Ferry signs in as your service account ferry@project.iam.gserviceaccount.com, with its JSON key (kept in the password store)");
  });

  it("leaves the other hosts as they were: no sign-in form for another IMAP host", async () => {
    await discovered();
    tid("preset-genericImap")!.click();
    expect(tid("oauth-microsoft365")).toBeNull();
    expect(tid("oauth-googleWorkspace")).toBeNull();
    expect(tid("host-form")).not.toBeNull();
  });
});

describe("Credentials for a host Ferry signs in to as the admin's app", () => {
  it("asks for no password and shows each mailbox's check with its advice", async () => {
    await discovered();
    await host.chooseOAuthDestination({ kind: "microsoft_secret", tenant: "contoso.onmicrosoft.com", client_id: APP }, SECRET);
    const advice = "Give the app access to this mailbox: in Exchange Online PowerShell, register the app's service principal once (New-ServicePrincipal) and run Add-MailboxPermission -Identity <mailbox> -User <service principal ID> -AccessRights FullAccess; also check that the mailbox exists in the app's tenant.";
    host.checkLogins = async (): Promise<CheckReport> => {
      host.calls.push("check_logins");
      host.view = {
        ...host.view,
        login_checks: host.view.plan.map((a) => ({ account: a.source_address, side: "destination" as const, status: a.login === "bmueller" ? "failed" : "ok", advice: a.login === "bmueller" ? advice : "", checked_at: 1_764_400_200 })),
      };
      return { results: [], ok: 2, problems: 1, source_from_store: true };
    };
    host.calls = [];
    const w = new Wizard(root, host, host.info, host.view);
    w.state.selected = "credentials";
    w.render();
    expect(tid("passwords")).toBeNull();
    expect(root.querySelectorAll('input[type="password"]').length).toBe(0);
    expect(tid("oauth-heading")!.textContent).toBe("Mailboxes on Microsoft 365");
    expect(tid("oauth-app")!.textContent).toBe(`As your app ${APP} in tenant contoso.onmicrosoft.com, with its client secret`);
    expect(q("p.lead")!.textContent).toBe(OAUTH_CREDENTIALS_LEAD);
    expect(q('[data-testid="mailbox-jdoe"] [data-testid="check"]')!.textContent).toBe("Not checked yet");
    expect(tid("check-logins")!.textContent).toBe("Check every mailbox");
    tid("check-logins")!.click();
    await flush();
    expect(host.calls).toEqual(["check_logins", "app_view"]);
    expect(tid("oauth-heading")!.textContent).toBe("Mailboxes on Microsoft 365 (2 of 3 sign in)");
    const status = (login: string) => q(`[data-testid="mailbox-${login}"] [data-testid="check-status"]`)!.textContent;
    expect([status("jdoe"), status("asmith"), status("bmueller")]).toEqual(["Signs in", "Signs in", "Cannot sign in"]);
    expect(q('[data-testid="mailbox-jdoe"] [data-testid="check-advice"]')).toBeNull();
    expect(q('[data-testid="mailbox-bmueller"] [data-testid="check-advice"]')!.textContent).toBe(advice);
    expect(tid("check-logins")!.textContent).toBe("Check again");
    // a wrong secret is fixed on Destination: the button opens the app's details there
    expect(tid("edit-app")!.textContent).toBe("Change the app's details…");
    tid("edit-app")!.click();
    expect(tid("screen-destination")).not.toBeNull();
    expect((tid("tenant") as HTMLInputElement).value).toBe("contoso.onmicrosoft.com");
    expect((tid("client-secret") as HTMLInputElement).placeholder).toBe("The secret's Value");
  });
});
