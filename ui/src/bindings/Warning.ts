import type { WarningCode } from "./WarningCode"; export type Warning = { code: WarningCode, subject: string | null, message: string, };
