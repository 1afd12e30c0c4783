// The old server's IMAP service in the wizard: the form on Destination (shown when an account is
// read over IMAP, else a link), its certificate compared and trusted, plain TCP only to this
// computer; the old-server passwords on Credentials, one way, with their login check.
import { beforeEach, describe, expect, it } from "vitest";
import { isLoopback, sourceFormProblem } from "../src/screens/source_imap";
import { Wizard } from "../src/wizard/app";
import { FakeHost } from "./fixtures";

let root: HTMLElement;
let host: FakeHost;
const q = (sel: string) => root.querySelector<HTMLElement>(sel);
const tid = (id: string) => q(`[data-testid="${id}"]`);
const flush = () => new Promise((r) => setTimeout(r, 20));

function typeInto(el: HTMLElement | null, value: string) {
  const input = el as HTMLInputElement;
  input.value = value;
  input.dispatchEvent(new Event("input"));
}

function choose(el: HTMLElement | null, value: string) {
  const select = el as HTMLSelectElement;
  select.value = value;
  select.dispatchEvent(new Event("change"));
}

/** Discovered, the new host chosen, and the wizard on `screen`. */
async function ready(screen: "destination" | "credentials"): Promise<Wizard> {
  if (!host.view.inventory) await host.discover({ kind: "copy", root: "/srv/copy" });
  await host.chooseDestination({ preset: "genericImap", imap_host: "imap.new.example", imap_port: 993, imap_security: "tls", smtp_host: null, pinned_sha256: null });
  host.calls = [];
  const w = new Wizard(root, host, host.info, host.view);
  w.state.selected = screen;
  w.render();
  return w;
}

async function readOverImap(login: string) {
  choose(q(`[data-testid="plan-${login}"] [data-testid="method"]`), "imap");
  await flush();
}

beforeEach(() => {
  document.body.innerHTML = "";
  root = document.createElement("div");
  document.body.append(root);
  host = new FakeHost();
});

describe("the old server's IMAP service on Destination", () => {
  it("is a link while every account is read from the store on disk", async () => {
    await ready("destination");
    expect(tid("source-imap")).toBeNull();
    expect(tid("source-imap-open")!.textContent).toBe("Read some accounts over IMAP instead…");
    tid("source-imap-open")!.click();
    await flush();
    expect(q('[data-testid="source-imap"] h2')!.textContent).toBe("How Ferry reaches the old server's mail over IMAP");
    expect(q('[data-testid="source-imap"] .section-lead')!.textContent).toContain("choose IMAP in the Read from column above");
    expect(host.calls).toEqual(["source_imap"]);
  });

  it("appears when an account is read over IMAP, defaults to the discovered host, and pins the trusted certificate", async () => {
    await ready("destination");
    await readOverImap("jdoe");
    expect(host.calls).toEqual(['change john@example.com {"change":"method","value":"imap"}', "source_imap"]);
    expect(q('[data-testid="source-imap"] .section-lead')!.textContent).toBe(
      "1 account is read over the old server's IMAP service: john@example.com. Ferry signs in there as that user; the passwords go in the next step, Credentials.",
    );
    // the old server's name from discovery, IMAP over TLS
    expect((tid("source-imap-host") as HTMLInputElement).value).toBe("mail.example.com");
    expect((tid("source-imap-port") as HTMLInputElement).value).toBe("993");
    expect((tid("source-imap-security-choice") as HTMLSelectElement).value).toBe("tls");
    // nothing is kept before the certificate is looked at
    expect((tid("source-imap-save") as HTMLButtonElement).disabled).toBe(true);
    expect(tid("source-imap-blocked")!.textContent).toBe("Check the old server's certificate first.");
    tid("source-imap-check")!.click();
    await flush();
    expect(host.calls).toContain("probe mail.example.com:993 tls");
    expect(tid("source-imap-fingerprint")!.textContent).toBe(Array(32).fill("ab").join(":"));
    expect(q('[data-testid="source-imap-certificate"] h3')!.textContent).toBe("The old server's certificate is not trusted by this computer: self-signed");
    expect(tid("source-imap-blocked")!.textContent).toBe("Compare and trust the certificate first.");
    const trust = tid("source-imap-trust") as HTMLInputElement;
    trust.checked = true;
    trust.dispatchEvent(new Event("change"));
    expect((tid("source-imap-save") as HTMLButtonElement).disabled).toBe(false);
    tid("source-imap-save")!.click();
    await flush();
    const sent = JSON.parse(host.calls.find((c) => c.startsWith("set_source_imap "))!.slice("set_source_imap ".length));
    expect(sent).toEqual({ host: "mail.example.com", port: 993, security: "tls", pinned_sha256: "ab".repeat(32) });
    expect(tid("source-imap-address")!.textContent).toBe("mail.example.com:993");
    expect(tid("source-imap-security")!.textContent).toBe("TLS, certificate pinned (the fingerprint you trusted)");
    expect(tid("source-imap-form")).toBeNull();
  });

  it("forgets a checked certificate when the host changes", async () => {
    await ready("destination");
    await readOverImap("jdoe");
    tid("source-imap-check")!.click();
    await flush();
    expect(tid("source-imap-certificate")).not.toBeNull();
    typeInto(tid("source-imap-host"), "old.example.com");
    expect(tid("source-imap-certificate")).toBeNull();
    expect((tid("source-imap-save") as HTMLButtonElement).disabled).toBe(true);
    // the typed host stays in the field after the re-render
    expect((tid("source-imap-host") as HTMLInputElement).value).toBe("old.example.com");
  });

  it("refuses a connection without encryption to another computer, and allows it to this one", async () => {
    await ready("destination");
    await readOverImap("jdoe");
    choose(tid("source-imap-security-choice"), "plain");
    expect((tid("source-imap-port") as HTMLInputElement).value).toBe("143");
    expect((tid("source-imap-check") as HTMLButtonElement).disabled).toBe(true);
    expect(tid("source-imap-plain-note")!.textContent).toContain("only to this computer (127.0.0.1 or localhost)");
    tid("source-imap-save")!.click();
    await flush();
    expect(host.calls.filter((c) => c.startsWith("set_source_imap"))).toEqual([]);
    expect(tid("source-imap-error")!.textContent).toBe(
      "That did not work: Ferry does not send passwords without encryption across the network, and mail.example.com is not this computer. Choose TLS (port 993) or STARTTLS (port 143).",
    );
    typeInto(tid("source-imap-host"), "127.0.0.1");
    typeInto(tid("source-imap-port"), "10143");
    tid("source-imap-save")!.click();
    await flush();
    expect(host.calls.filter((c) => c.startsWith("set_source_imap"))).toEqual(['set_source_imap {"host":"127.0.0.1","port":10143,"security":"plain","pinned_sha256":null}']);
    expect(tid("source-imap-security")!.textContent).toBe("No encryption (this computer only)");
  });

  it("shows the host's refusal in words", async () => {
    await ready("destination");
    await readOverImap("jdoe");
    host.failNext = { code: "connection", message: "mail.example.com:993: connection refused" };
    tid("source-imap-check")!.click();
    await flush();
    expect(tid("source-imap-error")!.dataset.code).toBe("connection");
    expect(tid("source-imap-error")!.textContent).toBe("That did not work: mail.example.com:993: connection refused");
    expect(tid("source-imap-certificate")).toBeNull();
  });

  it("shows the saved service, and changes it only after a new certificate check", async () => {
    host.sourceSaved = { host: "mail.example.com", port: 993, security: "tls", pinned_sha256: "cd".repeat(32) };
    await ready("destination");
    await readOverImap("jdoe");
    expect(tid("source-imap-address")!.textContent).toBe("mail.example.com:993");
    tid("source-imap-change")!.click();
    expect((tid("source-imap-host") as HTMLInputElement).value).toBe("mail.example.com");
    expect((tid("source-imap-save") as HTMLButtonElement).disabled).toBe(true);
    tid("source-imap-cancel")!.click();
    expect(tid("source-imap-address")!.textContent).toBe("mail.example.com:993");
  });
});

describe("old-server passwords on Credentials", () => {
  it("are asked only for accounts read over IMAP, go one way, and show the old server's login check", async () => {
    host.sourceSaved = { host: "mail.example.com", port: 993, security: "tls", pinned_sha256: "ab".repeat(32) };
    await host.discover({ kind: "copy", root: "/srv/copy" });
    await host.changeAccount("john@example.com", { change: "method", value: "imap" });
    await host.changeAccount("asmith@example.com", { change: "method", value: "imap" });
    const w = await ready("credentials");
    await flush();
    expect(q('[data-testid="source-passwords"] h2')!.textContent).toBe("Passwords on the old server (0 of 2 sign in)");
    expect(q('[data-testid="source-passwords"] .section-lead')!.textContent).toBe(
      "These accounts are read over the old server's IMAP service at mail.example.com:993. Type each user's password on the old server; Ferry keeps it in the system's password store and never shows it again. The Check logins button above tries these too.",
    );
    const rows = root.querySelectorAll('[data-testid="source-passwords"] tbody tr');
    expect(Array.from(rows).map((r) => r.getAttribute("data-testid"))).toEqual(["source-cred-jdoe", "source-cred-asmith"]);
    const pw = (login: string) => q(`[data-testid="source-cred-${login}"] [data-testid="source-password"]`) as HTMLInputElement;
    expect(pw("jdoe").type).toBe("password");
    q('[data-testid="source-cred-jdoe"] [data-testid="source-show-password"]')!.click();
    expect(pw("jdoe").type).toBe("text");
    typeInto(pw("jdoe"), "old-Secret-jdoe");
    typeInto(pw("asmith"), "wrong");
    tid("store-source-passwords")!.click();
    await flush();
    expect(host.receivedSource).toEqual({ "john@example.com": "old-Secret-jdoe", "asmith@example.com": "wrong" });
    // the new host's passwords were not touched
    expect(host.received).toEqual({});
    expect(pw("jdoe").value).toBe("");
    expect(pw("jdoe").placeholder).toBe("Stored (type to replace)");
    expect(root.innerHTML).not.toContain("old-Secret-jdoe");
    expect(JSON.stringify(w.state)).not.toContain("old-Secret-jdoe");
    tid("check-logins")!.click();
    await flush();
    const status = (login: string) => q(`[data-testid="source-cred-${login}"] [data-testid="source-check-status"]`)!;
    expect(status("jdoe").dataset.status).toBe("ok");
    expect(status("jdoe").textContent).toBe("Signs in");
    expect(status("asmith").dataset.status).toBe("wrong_password");
    expect(status("asmith").textContent).toBe("Wrong password");
    // in the app's words, not the command line's
    expect(q('[data-testid="source-cred-asmith"] [data-testid="source-check-advice"]')!.textContent).toBe(
      "The old server refused this password, or has no user asmith (it does not say which). Type the user's password on the old server again and store it.",
    );
    expect(q('[data-testid="source-passwords"]')!.textContent).not.toContain("ferry credentials");
    expect(q('[data-testid="source-cred-jdoe"] [data-testid="source-check-advice"]')).toBeNull();
    expect(q('[data-testid="source-passwords"] h2')!.textContent).toBe("Passwords on the old server (1 of 2 sign in)");
  });

  it("says where to set the service up before it is, and asks nothing then", async () => {
    await host.discover({ kind: "copy", root: "/srv/copy" });
    await host.changeAccount("john@example.com", { change: "method", value: "imap" });
    await ready("credentials");
    await flush();
    expect(tid("source-imap-missing")!.textContent).toBe(
      "Ferry does not know yet how to reach the old server over IMAP. Go back to step 2, Destination, and fill in the old server's IMAP settings below the accounts.",
    );
    expect((q('[data-testid="source-cred-jdoe"] [data-testid="source-password"]') as HTMLInputElement).disabled).toBe(true);
    expect((tid("store-source-passwords") as HTMLButtonElement).disabled).toBe(true);
  });

  it("is not there when every account is read from the store", async () => {
    await ready("credentials");
    await flush();
    expect(tid("passwords")).not.toBeNull();
    expect(tid("source-passwords")).toBeNull();
    expect(host.calls.filter((c) => c === "source_imap")).toEqual([]);
  });
});

describe("which hosts may be reached without encryption", () => {
  it("is this computer only", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST.", "::1", "[::1]", "::ffff:127.0.0.1"]) expect(isLoopback(h), h).toBe(true);
    for (const h of ["mail.example.com", "10.0.0.1", "127.example.com", "localhost.example.com", "::2"]) expect(isLoopback(h), h).toBe(false);
    expect(sourceFormProblem({ host: "", port: "993", security: "tls" })).toBe("Enter the old server's host name (for example mail.example.com).");
    expect(sourceFormProblem({ host: "mail.example.com", port: "99999", security: "tls" })).toBe('The port "99999" is not a number from 1 to 65535 (IMAP over TLS uses 993).');
    expect(sourceFormProblem({ host: "localhost", port: "143", security: "plain" })).toBeNull();
  });
});
