export type HostInfo = { os: string, this_mac_available: boolean, suggested_root: string | null, };
