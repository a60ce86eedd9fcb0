import {CapeError} from '../core/errors.js'

/** A Referer longer than this is no page a token should be used from (and no input to scan). */
export const MAX_REFERRER_LENGTH = 2048

/**
 * A referrer pattern, such as `https://*.example.com/app/*`: a scheme, matched exactly; a host
 * (with its port), where `*` matches only within the host; and the rest (path and query), where
 * `*` matches anything. A pattern with no path stands for the site's root, `/`.
 */
interface ReferrerPattern {
  scheme: string
  host: string
  rest: string
}

const SCHEME_CHARACTERS = 'abcdefghijklmnopqrstuvwxyz0123456789+.-'

/** Splits `scheme://host[:port]/rest` by hand: one pass, nothing that can backtrack. */
function splitUrl(text: string): ReferrerPattern | undefined {
  const separator = text.indexOf('://')
  if (separator <= 0) return undefined
  const scheme = text.slice(0, separator).toLowerCase()
  if (![...scheme].every((character) => SCHEME_CHARACTERS.includes(character)) || !/[a-z]/.test(scheme[0]!)) return undefined
  let end = separator + 3
  while (end < text.length && text[end] !== '/' && text[end] !== '?' && text[end] !== '#') end++
  const host = text.slice(separator + 3, end).toLowerCase()
  // A Referer never carries user info; `evil.com@app.example.com` is a trick, not a host.
  if (host.length === 0 || host.includes('@') || /\s/.test(host)) return undefined
  const rest = text.slice(end)
  return {scheme, host, rest: rest === '' ? '/' : rest}
}

/** A Referer as a request reports it: a URL with a scheme and a host, at most 2 KiB. */
export function checkReferrer(referrer: string, what = 'the referrer'): string {
  if (referrer.length > MAX_REFERRER_LENGTH || !splitUrl(referrer)) {
    throw new CapeError('invalid_argument', `${what} is not a URL of at most ${MAX_REFERRER_LENGTH} characters with a scheme and a host`)
  }

  return referrer
}

/** Checks a pattern as given to `token create` or the API, and gives its normal form. */
export function normalizeReferrerPattern(pattern: string): string {
  const parts = splitUrl(pattern.trim())
  if (!parts || parts.scheme.includes('*')) {
    throw new CapeError(
      'invalid_argument',
      `referrer pattern "${pattern}" is not a URL pattern: give a scheme and a host, e.g. https://app.example.com/* or https://*.example.com/*`,
    )
  }

  return `${parts.scheme}://${parts.host}${parts.rest}`
}

/** A pattern made ready to match Referers; one that does not parse (an old token's) matches none. */
export class CompiledReferrerPattern {
  private readonly parts: ReferrerPattern | undefined

  constructor(readonly source: string) {
    this.parts = splitUrl(source)
  }

  matches(referrer: string): boolean {
    if (this.parts === undefined || referrer.length > MAX_REFERRER_LENGTH) return false
    const url = splitUrl(referrer)
    return (
      url !== undefined &&
      url.scheme === this.parts.scheme &&
      wildcardMatches(this.parts.host, url.host) &&
      wildcardMatches(this.parts.rest, url.rest)
    )
  }
}

/**
 * Whether every Referer `child` admits, `parent` admits too: part by part, the parent's
 * pattern must match the child's own text, the child's stars read as characters that only a
 * star matches. That is exactly the inclusion of the two.
 */
export function referrerPatternWithin(child: string, parent: string): boolean {
  const inner = splitUrl(child)
  const outer = splitUrl(parent)
  if (!inner || !outer) return child === parent
  return inner.scheme === outer.scheme && wildcardMatches(outer.host, inner.host) && wildcardMatches(outer.rest, inner.rest)
}

/**
 * `*` matches any run of characters; everything else stands for itself; the whole text must
 * match. No regular expression: the literal runs between stars are found left to right, each
 * at its first place, which is enough for `*`-only patterns and never backtracks; at most
 * pattern length × text length steps.
 */
export function wildcardMatches(pattern: string, text: string): boolean {
  const parts = pattern.split('*')
  if (parts.length === 1) return text === pattern
  const first = parts[0]!
  const last = parts.at(-1)!
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false
  const end = text.length - last.length
  let position = first.length
  for (let index = 1; index < parts.length - 1; index++) {
    const part = parts[index]!
    if (part === '') continue
    const found = text.indexOf(part, position)
    if (found === -1 || found + part.length > end) return false
    position = found + part.length
  }

  return true
}
