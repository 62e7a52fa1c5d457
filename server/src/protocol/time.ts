/**
 * RFC 3339 timestamps (`2026-01-04T12:36:20Z`, `2026-01-04T12:36:20.123+02:00`).
 * Accepted: `T` or `t` as separator, `Z`/`z` or a `±hh:mm` offset, any number of
 * fraction digits, second 60 (leap second). Calendar dates are checked (no 30 February).
 */
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Epoch milliseconds of an RFC 3339 timestamp, or `null` when it is not one. */
export function parseRfc3339(s: unknown): number | null {
  if (typeof s !== 'string' || s.length > 64) return null;
  const m = RFC3339.exec(s);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 60) return null;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const fraction = m[7] === undefined ? 0 : Math.floor(Number(`0${m[7]}`) * 1000);
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, fraction);
  return d.getTime() - offsetMinutes * 60_000;
}

export function isRfc3339(s: unknown): s is string {
  return parseRfc3339(s) !== null;
}

/** Largest epoch millisecond a Date can hold. */
const MAX_DATE_MS = 8.64e15;

/**
 * Formats epoch milliseconds as RFC 3339 in UTC with milliseconds
 * (`2026-01-04T12:36:20.000Z`), or `null` for a value outside years 0000–9999.
 */
export function formatRfc3339(ms: number): string | null {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) return null;
  const d = new Date(Math.floor(ms));
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) return null;
  return d.toISOString();
}
