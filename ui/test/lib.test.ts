import { describe, expect, it } from "vitest";
import { explainError, explainWarning, WARNING_CODES } from "../src/lib/explain";
import { bytes, count, percent, plural } from "../src/lib/format";
import { nextOrder, sortAccounts } from "../src/lib/sort";
import { account } from "./fixtures";

describe("format", () => {
  it("shows sizes in binary units, as discovery's sentences and the CLI do", () => {
    // The same cases as human_bytes' test in src-tauri/src/tray.rs (Rust's `{:.0}` and JS's
    // toFixed(0) both round half to even on these values).
    expect(bytes(0)).toBe("0 B");
    expect(bytes(1)).toBe("1 B");
    expect(bytes(1023)).toBe("1023 B");
    expect(bytes(1024)).toBe("1.0 KiB");
    expect(bytes(7_475)).toBe("7.3 KiB");
    expect(bytes(13_312)).toBe("13 KiB");
    expect(bytes(2_345_678)).toBe("2.2 MiB");
    expect(bytes(1_288_490_189)).toBe("1.2 GiB");
  });
  it("groups counts and pluralises", () => {
    expect(count(1234567)).toBe("1,234,567");
    expect(plural(1, "folder")).toBe("1 folder");
    expect(plural(3, "folder")).toBe("3 folders");
    expect(plural(2, "more address", "more addresses")).toBe("2 more addresses");
  });
  it("bounds bar widths", () => {
    expect(percent(5, 10)).toBe(50);
    expect(percent(5, 0)).toBe(0);
    expect(percent(20, 10)).toBe(100);
  });
});

describe("sorting accounts", () => {
  const list = [
    account("b", 300, { real_name: "Zoe" }),
    account("a", 100, { real_name: "adam", state: "disabled" }),
    account("c", 200, { real_name: null, quota_bytes: 50 }),
  ];
  it("sorts by size, largest first by default for numbers", () => {
    const order = nextOrder({ key: "name", direction: "ascending" }, "bytes");
    expect(order).toEqual({ key: "bytes", direction: "descending" });
    expect(sortAccounts(list, order).map((a) => a.short_name)).toEqual(["b", "c", "a"]);
  });
  it("sorts names case-insensitively, falling back to the short name", () => {
    expect(sortAccounts(list, { key: "name", direction: "ascending" }).map((a) => a.short_name)).toEqual(["a", "c", "b"]);
  });
  it("flips direction on a second click", () => {
    expect(nextOrder({ key: "bytes", direction: "descending" }, "bytes").direction).toBe("ascending");
  });
  it("puts accounts without quota after every limit", () => {
    expect(sortAccounts(list, { key: "quota", direction: "ascending" })[0].short_name).toBe("c");
  });
  it("orders states active, forwarding, disabled", () => {
    expect(sortAccounts(list, { key: "state", direction: "descending" })[0].short_name).toBe("a");
  });
  it("does not change the input", () => {
    const before = list.map((a) => a.short_name);
    sortAccounts(list, { key: "bytes", direction: "ascending" });
    expect(list.map((a) => a.short_name)).toEqual(before);
  });
});

describe("explanations", () => {
  it("has a title and what-to-do for every warning code", () => {
    expect(WARNING_CODES.length).toBeGreaterThanOrEqual(14);
    for (const code of WARNING_CODES) {
      const ex = explainWarning(code);
      expect(ex.title.length).toBeGreaterThan(10);
      expect(ex.todo.length).toBeGreaterThan(40);
    }
  });
  it("tells a Mac admin to grant Full Disk Access when reading is not permitted", () => {
    const help = explainError({ code: "permission_denied", message: "Operation not permitted" }, "macos");
    expect(help.steps.join(" ")).toContain("Full Disk Access");
  });
  it("does not mention Full Disk Access off the Mac", () => {
    const help = explainError({ code: "permission_denied", message: "Permission denied" }, "linux");
    expect(help.steps.join(" ")).not.toContain("Full Disk Access");
    expect(help.steps.join(" ")).toContain("read access");
  });
  it("points at the root folder when the files are not found", () => {
    const help = explainError({ code: "not_found", message: "no such file" }, "linux");
    expect(help.steps[0]).toContain("Library/Server/Mail");
  });
});
