/** Times and spans of time in words, as the CLI prints them. */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const pad = (value: number) => String(value).padStart(2, '0')

/** Cape's format, in local time: `Jan 10 2023 11:55`. */
export function formatDate(iso: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return 'invalid'
  return `${MONTHS[date.getMonth()]} ${pad(date.getDate())} ${date.getFullYear()} ${pad(date.getHours())}:${pad(date.getMinutes())}`
}

const UNITS: Array<[string, number]> = [
  ['year', 365 * 86_400_000],
  ['month', 30 * 86_400_000],
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
]

/**
 * "3 days", "1 hour", "less than a minute": in the largest unit that fits. The token table rounds
 * down and the expiry warning to the nearest, so they may differ by one (issue 14 makes them agree).
 */
export function describeSpan(ms: number, rounding: 'down' | 'nearest'): string {
  const distance = Math.abs(ms)
  const unit = UNITS.find(([, size]) => distance >= size)
  if (unit === undefined) return 'less than a minute'
  const [name, size] = unit
  const count = rounding === 'down' ? Math.floor(distance / size) : Math.round(distance / size)
  return `${count} ${name}${count === 1 ? '' : 's'}`
}

/** "in 3 days", "2 months ago", "in less than a minute": rounded down. */
export function relativeTime(iso: string, now: number): string {
  const delta = Date.parse(iso) - now
  const span = describeSpan(delta, 'down')
  return delta >= 0 ? `in ${span}` : `${span} ago`
}
