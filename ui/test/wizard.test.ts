import { beforeEach, describe, expect, it } from "vitest";
import { Wizard } from "../src/wizard/app";
import { FakeHost } from "./fixtures";

let root: HTMLElement;
let host: FakeHost;
const q = (sel: string) => root.querySelector<HTMLElement>(sel);
const tid = (id: string) => q(`[data-testid="${id}"]`);
const flush = () => new Promise((r) => setTimeout(r, 0));

beforeEach(() => {
  document.body.innerHTML = "";
  root = document.createElement("div");
  document.body.append(root);
  host = new FakeHost();
});

async function discoverCopy(path: string) {
  const input = tid("root-input") as HTMLInputElement;
  input.value = path;
  input.dispatchEvent(new Event("input"));
  tid("discover-button")!.click();
  await flush();
}

describe("the wizard's frame", () => {
  it("lists all eleven phases; a blocked step says what blocks it", async () => {
    await Wizard.start(root, host);
    const items = root.querySelectorAll(".phases button");
    expect(items.length).toBe(11);
    expect(tid("phase-discover")!.textContent).toBe("1DiscoverNot started");
    expect(tid("headline")!.textContent).toBe("Start by discovering the old server.");
    tid("phase-cutover")!.click();
    expect(tid("screen-cutover")).not.toBeNull();
    expect(tid("cutover-blockers")!.textContent).toBe("Discover the old server first.");
  });

  it("offers only a copy on a machine that is not the Mac server", async () => {
    await Wizard.start(root, host);
    expect((tid("source-this_mac") as HTMLInputElement).disabled).toBe(true);
    expect((tid("source-copy") as HTMLInputElement).checked).toBe(true);
  });

  it("fills in a suggested server copy", async () => {
    host.info = { os: "linux", this_mac_available: false, suggested_root: "/demo/macos-server-5", suggested_imap: null };
    await Wizard.start(root, host);
    expect((tid("root-input") as HTMLInputElement).value).toBe("/demo/macos-server-5");
  });

  it("preselects this Mac on macOS", async () => {
    host.info = { os: "macos", this_mac_available: true, suggested_root: null, suggested_imap: null };
    await Wizard.start(root, host);
    expect((tid("source-this_mac") as HTMLInputElement).checked).toBe(true);
    expect((tid("root-input") as HTMLInputElement).disabled).toBe(true);
  });
});

describe("discovery", () => {
  it("shows running, then the inventory, and marks the phase", async () => {
    host.hold = true;
    await Wizard.start(root, host);
    await discoverCopy("/srv/copy");
    expect(tid("running")).not.toBeNull();
    expect(tid("phase-discover")!.dataset.state).toBe("running");
    host.finish();
    await flush();
    expect(host.calls).toContain("discover copy /srv/copy");
    expect(tid("results")).not.toBeNull();
    expect(tid("hostname")!.textContent).toBe("mail.example.com");
    expect(q('[data-testid="summary-accounts"] .tile-value')!.textContent).toBe("3");
    expect(q('[data-testid="summary-size"] .tile-value')!.textContent).toBe("17 MiB");
    expect(tid("phase-discover")!.dataset.state).toBe("needs_attention");
  });

  it("shows accounts largest first, sortable by name", async () => {
    await Wizard.start(root, host);
    await discoverCopy("/srv/copy");
    const names = () => Array.from(root.querySelectorAll('[data-testid="accounts-table"] tbody tr')).map((tr) => tr.getAttribute("data-testid"));
    expect(names()).toEqual(["account-asmith", "account-jdoe", "account-bmueller"]);
    tid("sort-name")!.click();
    expect(names()).toEqual(["account-asmith", "account-bmueller", "account-jdoe"]);
    expect(tid("sort-name")!.closest("th")!.getAttribute("aria-sort")).toBe("ascending");
  });

  it("shows an account's folders on demand", async () => {
    await Wizard.start(root, host);
    await discoverCopy("/srv/copy");
    expect(tid("folders-of-GUID-jdoe")).toBeNull();
    tid("folders-jdoe")!.click();
    const folders = tid("folders-of-GUID-jdoe")!;
    expect(folders.textContent).toContain("Rechnungen/2018");
    expect(folders.textContent).toContain("Inbox");
    tid("folders-jdoe")!.click();
    expect(tid("folders-of-GUID-jdoe")).toBeNull();
  });

  it("explains every warning with what to do", async () => {
    await Wizard.start(root, host);
    await discoverCopy("/srv/copy");
    const w = tid("warning-address_not_in_virtual_users")!;
    expect(w.textContent).toContain("b.mueller@example.org is in the directory");
    expect(w.textContent).toContain("What to do:");
    expect(tid("warning-orphan_store")).not.toBeNull();
    expect(tid("orphans")!.textContent).toContain("ORPHAN-1");
    expect(tid("training")!.textContent).toContain("junkmail@example.com");
  });

  it("shows an error with its fix, and keeps the form", async () => {
    host.info = { os: "macos", this_mac_available: true, suggested_root: null, suggested_imap: null };
    host.failDiscover = { code: "permission_denied", message: "Ferry cannot open the folder /: the system does not allow Ferry to read it." };
    await Wizard.start(root, host);
    tid("discover-button")!.click();
    await flush();
    expect(host.calls).toContain("discover this_mac ");
    expect(tid("error")!.dataset.code).toBe("permission_denied");
    expect(tid("error-message")!.textContent).toBe("Ferry cannot open the folder /: the system does not allow Ferry to read it.");
    expect(tid("error-fix")!.textContent).toContain("Full Disk Access");
    expect(tid("source-form")).not.toBeNull();
  });

  it("turns a non-command failure into an internal error", async () => {
    host.failDiscover = new Error("IPC lost");
    await Wizard.start(root, host);
    await discoverCopy("/x");
    expect(tid("error")!.dataset.code).toBe("internal");
    expect(tid("error-message")!.textContent).toBe("IPC lost");
  });

  it("returns to the remembered migration and starts over only after asking", async () => {
    host.view = (await (async () => {
      await host.discover({ kind: "copy", root: "/remembered" });
      return host.view;
    })());
    await Wizard.start(root, host);
    // the migration's next step opens first
    expect(tid("screen-destination")).not.toBeNull();
    tid("phase-discover")!.click();
    expect(tid("results")).not.toBeNull();
    expect(root.textContent).toContain("Read from /remembered");
    tid("start-over")!.click();
    await flush();
    // nothing forgotten yet: a question, with what would be lost
    expect(host.calls).not.toContain("start_over");
    expect(tid("confirm-start_over")!.textContent).toContain("mail.example.com: 3 accounts, 17 MiB");
    tid("confirm-no")!.click();
    expect(tid("confirm-start_over")).toBeNull();
    expect(host.calls).not.toContain("start_over");
    tid("start-over")!.click();
    tid("confirm-yes")!.click();
    await flush();
    expect(host.calls.filter((c) => c === "start_over")).toEqual(["start_over"]);
    expect(tid("source-form")).not.toBeNull();
    expect(tid("results")).toBeNull();
  });

  it("asks before another server's discovery replaces the migration", async () => {
    await Wizard.start(root, host);
    await discoverCopy("/srv/first");
    tid("choose-another")!.click();
    await discoverCopy("/srv/second");
    expect(host.calls.filter((c) => c.startsWith("discover"))).toEqual(["discover copy /srv/first"]);
    expect(tid("confirm-replace")!.textContent).toContain("replaces the migration of mail.example.com");
    tid("confirm-yes")!.click();
    await flush();
    expect(host.calls.filter((c) => c.startsWith("discover"))).toEqual(["discover copy /srv/first", "discover copy /srv/second"]);
    expect(root.textContent).toContain("Read from /srv/second");
  });

  it("fills the path from the folder chooser, and keeps it when cancelled", async () => {
    await Wizard.start(root, host);
    host.chosenFolder = "/Volumes/Backup/old server";
    tid("choose-folder")!.click();
    await flush();
    expect((tid("root-input") as HTMLInputElement).value).toBe("/Volumes/Backup/old server");
    host.chosenFolder = null;
    tid("choose-folder")!.click();
    await flush();
    expect((tid("root-input") as HTMLInputElement).value).toBe("/Volumes/Backup/old server");
    tid("discover-button")!.click();
    await flush();
    expect(host.calls).toContain("discover copy /Volumes/Backup/old server");
  });

  it("tells how to complete a copy that lacks the directory's saved output", async () => {
    host.failDiscover = { code: "copy_without_commands", message: "This copy has no saved output of `serveradmin settings mail`: commands/serveradmin-settings-mail.txt is missing in /srv/copy." };
    await Wizard.start(root, host);
    await discoverCopy("/srv/copy");
    expect(tid("error")!.dataset.code).toBe("copy_without_commands");
    const fix = tid("error-fix")!.textContent!;
    expect(fix).toContain("sudo serveradmin settings mail > serveradmin-settings-mail.txt");
    expect(fix).toContain("folder named commands");
    expect(fix).not.toContain("--root");
  });

  it("never renders server-provided text as HTML", async () => {
    await Wizard.start(root, host);
    await discoverCopy("/srv/copy");
    host.view.inventory!.inventory.hostname = "<img src=x onerror=alert(1)>";
    const w = new Wizard(root, host, host.info, host.view);
    w.state.selected = "discover";
    w.render();
    expect(tid("hostname")!.textContent).toBe("<img src=x onerror=alert(1)>");
    expect(root.querySelector("img")).toBeNull();
  });
});

describe("size bars", () => {
  it("are as wide as each mailbox's share of the largest", async () => {
    const host = new FakeHost();
    await Wizard.start(root, host);
    await discoverCopy("/srv/copy");
    const width = (id: string) => (q(`[data-testid="account-${id}"] .bar-fill`) as HTMLElement).style.width;
    expect(width("asmith")).toBe("100.0%");
    expect(width("jdoe")).toBe("41.7%");
  });
});

describe("every step's frame", () => {
  it("has Back and Continue in the footer; Continue says what blocks it", async () => {
    await Wizard.start(root, host);
    expect(tid("back")).toBeNull();
    expect((tid("continue") as HTMLButtonElement).disabled).toBe(true);
    expect(tid("continue")!.textContent).toBe("Continue: Destination →");
    expect(tid("blocked")!.textContent).toBe("Discover the old server first.");
    await discoverCopy("/srv/copy");
    expect(tid("blocked")).toBeNull();
    tid("continue")!.click();
    expect(tid("screen-destination")).not.toBeNull();
    expect(tid("back")!.textContent).toBe("← Discover");
    tid("back")!.click();
    expect(tid("screen-discover")).not.toBeNull();
  });

  it("makes Continue the one primary button once a step is done and asks nothing more", async () => {
    await Wizard.start(root, host);
    expect(tid("continue")!.className).toBe("secondary");
    await host.discover({ kind: "copy", root: "/srv/copy" });
    // (the fake's copy has warnings to decide on: decided)
    host.view.status.phases = host.view.status.phases.map((p) => (p.phase === "discover" ? { ...p, state: "done" } : p));
    document.body.innerHTML = "";
    root = document.createElement("div");
    document.body.append(root);
    await Wizard.start(root, host);
    tid("phase-discover")!.click();
    expect(tid("phase-discover")!.dataset.state).toBe("done");
    expect(tid("continue")!.className).toBe("primary");
    expect(Array.from(root.querySelectorAll("button.primary")).map((b) => b.getAttribute("data-testid"))).toEqual(["continue"]);
    // a step not done keeps its own primary button, and Continue stays secondary
    tid("continue")!.click();
    expect(Array.from(root.querySelectorAll("button.primary")).map((b) => b.getAttribute("data-testid"))).toEqual(["save-destination"]);
    expect(tid("continue")!.className).toBe("secondary");
  });
});
