export type SourceKind = "this_mac" | "copy";
