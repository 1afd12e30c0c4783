export type AccountState = "active" | "forwarding" | "disabled";
