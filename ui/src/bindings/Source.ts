import type { SourceKind } from "./SourceKind"; export type Source = { kind: SourceKind, root: string, };
