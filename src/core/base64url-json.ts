/** base64url(JSON), as JWT segments and prepared-token bundles carry it: decoded, never checked. */

/** The JSON value inside, or undefined when the text does not decode to JSON. */
export function decodeBase64urlJson(text: string): unknown {
  try {
    return JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown
  } catch {
    return undefined
  }
}

/** A JWT segment's JSON object, or undefined when it is not one. */
export function decodeJsonSegment(segment: string | undefined): Record<string, unknown> | undefined {
  if (segment === undefined) return undefined
  const value = decodeBase64urlJson(segment)
  return isJsonObject(value) ? value : undefined
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The payload of a JWT, unchecked: only to name a token whose signature the verifier has already
 * vouched for, or to read the expiry a warning needs.
 */
export function peekClaims(token: string): Record<string, unknown> | undefined {
  return decodeJsonSegment(token.split('.', 2)[1])
}
