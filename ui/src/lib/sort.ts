import type { Account } from "../bindings/Account";

export type AccountKey = "name" | "address" | "state" | "quota" | "messages" | "bytes";
export type Direction = "ascending" | "descending";
export interface SortOrder {
  key: AccountKey;
  direction: Direction;
}

const STATE_ORDER = { active: 0, forwarding: 1, disabled: 2 } as const;

export function displayName(a: Account): string {
  return a.real_name && a.real_name.trim() !== "" ? a.real_name : a.short_name;
}

function compare(a: Account, b: Account, key: AccountKey): number {
  switch (key) {
    case "name":
      return displayName(a).localeCompare(displayName(b), undefined, { sensitivity: "base" });
    case "address":
      return (a.addresses[0] ?? "").localeCompare(b.addresses[0] ?? "");
    case "state":
      return STATE_ORDER[a.state] - STATE_ORDER[b.state];
    case "quota":
      // accounts without a quota sort as unlimited (after every limit)
      return (a.quota_bytes ?? Infinity) - (b.quota_bytes ?? Infinity);
    case "messages":
      return a.messages - b.messages;
    case "bytes":
      return a.bytes - b.bytes;
  }
}

/** A sorted copy; ties keep directory order, so the table does not jump around. */
export function sortAccounts(accounts: readonly Account[], order: SortOrder): Account[] {
  const sign = order.direction === "ascending" ? 1 : -1;
  return accounts
    .map((account, index) => ({ account, index }))
    .sort((x, y) => sign * compare(x.account, y.account, order.key) || x.index - y.index)
    .map(({ account }) => account);
}

/** Clicking a column: a new column starts in its natural direction, the same column flips. */
export function nextOrder(current: SortOrder, key: AccountKey): SortOrder {
  if (current.key === key) {
    return { key, direction: current.direction === "ascending" ? "descending" : "ascending" };
  }
  const numeric = key === "messages" || key === "bytes" || key === "quota";
  return { key, direction: numeric ? "descending" : "ascending" };
}
