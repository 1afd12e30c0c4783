import type { ErrorCode } from "./ErrorCode"; export type CommandError = { code: ErrorCode, message: string, };
