/** A credential this close to its expiry draws a warning on every use. */
export const EXPIRY_WARNING_MS = 7 * 24 * 60 * 60 * 1000

/** Milliseconds left when the token expires within the warning window; undefined otherwise. */
export function expiringWithin(expiresAt: string | null | undefined, now: number): number | undefined {
  if (!expiresAt) return undefined
  const left = Date.parse(expiresAt) - now
  return left > 0 && left <= EXPIRY_WARNING_MS ? left : undefined
}
