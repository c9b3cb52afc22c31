// Time-zone arithmetic for fitness data: local days of samples and day boundaries of a zone.
// Samples carry their own UTC offset (what the device knew when it recorded them); provider
// pulls and stats use the user's IANA zone, so DST days of 23 or 25 hours come out right.

const DAY_MS = 86_400_000
const offsetFormats = new Map<string, Intl.DateTimeFormat>()

function offsetFormat (timeZone: string): Intl.DateTimeFormat {
  let format = offsetFormats.get(timeZone)
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset', year: 'numeric' })
    offsetFormats.set(timeZone, format)
  }
  return format
}

export function isValidTimeZone (timeZone: string): boolean {
  try {
    offsetFormat(timeZone)
    return true
  } catch {
    return false
  }
}

// Minutes east of UTC in `timeZone` at `at`, e.g. -300 for New York in winter.
export function zoneOffsetMinutes (timeZone: string, at: Date): number {
  const name = offsetFormat(timeZone).formatToParts(at).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT'
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name)
  if (match === null) return 0
  const minutes = Number(match[2]) * 60 + Number(match[3])
  return match[1] === '-' ? -minutes : minutes
}

// The date part of an ISO string, whole: years past 9999 are written +010000, and cutting at
// ten characters would give a day that adding days to never moves past.
function isoDay (ms: number): string {
  const iso = new Date(ms).toISOString()
  return iso.slice(0, iso.indexOf('T'))
}

// The calendar day (YYYY-MM-DD) of an instant seen with a fixed offset.
export function localDay (at: Date, offsetMinutes: number): string {
  return isoDay(at.getTime() + offsetMinutes * 60_000)
}

export function zoneDay (at: Date, timeZone: string): string {
  return localDay(at, zoneOffsetMinutes(timeZone, at))
}

// The instant a local day starts in `timeZone`. Two passes settle the offset across DST changes.
export function zoneDayStart (day: string, timeZone: string): Date {
  const midnightUtc = Date.parse(`${day}T00:00:00.000Z`)
  let guess = midnightUtc - zoneOffsetMinutes(timeZone, new Date(midnightUtc)) * 60_000
  guess = midnightUtc - zoneOffsetMinutes(timeZone, new Date(guess)) * 60_000
  return new Date(guess)
}

export function addDays (day: string, days: number): string {
  return isoDay(Date.parse(`${day}T00:00:00.000Z`) + days * DAY_MS)
}

export function daysBetween (from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00.000Z`) - Date.parse(`${from}T00:00:00.000Z`)) / DAY_MS)
}
