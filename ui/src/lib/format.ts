// Numbers as an admin reads them: sizes in binary units (KiB, MiB, GiB), the same strings as
// discovery's own sentences and the command line (ferry_discover::human_bytes), so one screen never
// mixes KB and KiB; grouped counts.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** `512 B`, `7.3 KiB`, `13 KiB`, `1.2 MiB`: exactly as ferry_discover::human_bytes. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit + 1 < UNITS.length) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ${UNITS[unit]}`;
}

export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** `1 message`, `2 messages`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** A timestamp (Unix seconds) as local date and time, e.g. `29 Nov 2026, 09:12`. */
export function when(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (x: number) => String(x).padStart(2, "0");
  return `${d.getDate()} ${months[d.getMonth()]} ${d.getFullYear()}, ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Share of `part` in `whole`, 0..100, for size bars. */
export function percent(part: number, whole: number): number {
  if (whole <= 0) return 0;
  return Math.max(0, Math.min(100, (part / whole) * 100));
}

/** A time left, as a person says it: `45 s`, `3 min`, `2 h 10 min`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}
