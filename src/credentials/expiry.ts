/** A credential this close to its expiry draws a warning on every use. */
export const EXPIRY_WARNING_MS = 7 * 24 * 60 * 60 * 1000

/** Milliseconds left when the token expires within the warning window; undefined otherwise. */
export function expiringWithin(expiresAt: string | null | undefined, now: number): number | undefined {
  if (!expiresAt) return undefined
  const left = Date.parse(expiresAt) - now
  return left > 0 && left <= EXPIRY_WARNING_MS ? left : undefined
}

/** "3 days", "5 hours", "1 minute": rounded to the nearest, in the largest unit that fits. */
export function describeRemaining(ms: number): string {
  const units: Array<[string, number]> = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
  ]
  for (const [unit, size] of units) {
    if (ms < size) continue
    const count = Math.round(ms / size)
    if (count >= 1) return `${count} ${unit}${count === 1 ? '' : 's'}`
  }

  return 'less than a minute'
}
