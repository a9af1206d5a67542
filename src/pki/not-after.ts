import {usageError} from '../errors.js'

const MINUTE_MS = 60_000
const UNIT_MS = {m: MINUTE_MS, h: 60 * MINUTE_MS, d: 1440 * MINUTE_MS} as const
/** The same upper bound as --days. */
const MAX_MS = 36_500 * UNIT_MS.d
const DATE = /^\d{4}-\d{2}-\d{2}$/
/** A date and time needs its offset (Z or ±HH:MM): the machine's time zone is not the servers'. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/i

/**
 * `--not-after`: a duration from now (`30m`, `24h`, `90d`: one whole number and one unit, m, h or d), or
 * an ISO 8601 date (`2027-01-31`, midnight UTC at its start) or date and time with its offset
 * (`2027-01-31T12:00:00Z`, `2027-01-31T14:00+02:00`). It must be in the future and at most 36500 days away.
 */
export function parseNotAfter(raw: string, now: Date): Date {
  const text = raw.trim()
  const duration = /^(\d{1,9})([mhd])$/i.exec(text)
  let end: Date
  if (duration) {
    const amount = Number(duration[1])
    if (amount === 0) throw usageError(`--not-after ${raw}: a duration must be greater than 0`)
    end = new Date(now.getTime() + amount * UNIT_MS[duration[2]!.toLowerCase() as keyof typeof UNIT_MS])
  } else if (DATE.test(text) || DATE_TIME.test(text)) {
    const iso = DATE.test(text) ? `${text}T00:00:00Z` : text.replace(' ', 'T')
    end = new Date(iso)
    // Date accepts 2027-02-30 (as March 2nd): the date must read back as written.
    if (Number.isNaN(end.getTime()) || !sameCalendarDate(iso, end)) throw usageError(`--not-after ${raw}: not a real date`)
  } else {
    throw usageError(`--not-after ${JSON.stringify(raw)}: give a duration (30m, 24h, 90d) or an ISO date or date-time with offset (2027-01-31, 2027-01-31T12:00:00Z)`)
  }
  if (end.getTime() <= now.getTime()) throw usageError(`--not-after ${raw} (${end.toISOString()}) is not in the future`)
  if (end.getTime() - now.getTime() > MAX_MS) throw usageError(`--not-after ${raw} is more than 36500 days away`)
  return end
}

function sameCalendarDate(iso: string, date: Date): boolean {
  const offset = /([+-])(\d{2}):(\d{2})$/.exec(iso)
  const shift = offset ? (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3])) * MINUTE_MS : 0
  return new Date(date.getTime() + shift).toISOString().slice(0, 10) === iso.slice(0, 10)
}

/**
 * A certificate must not outlive its CA: refused, not shortened, naming the latest end that fits.
 * `ca` says which CA ("--ca-days 365", "the CA certificate ca.crt").
 */
export function checkNotAfterWithinCa(notAfter: Date, raw: string, caEnd: Date, ca: string): void {
  if (notAfter.getTime() <= caEnd.getTime()) return
  throw usageError(`--not-after ${raw} (${notAfter.toISOString()}) outlives ${ca}, which ends ${caEnd.toISOString()}: a certificate must not outlive its CA; use --not-after ${caEnd.toISOString()} or earlier`)
}
