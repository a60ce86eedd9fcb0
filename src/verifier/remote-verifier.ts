import {CapeError} from '../core/errors.js'
import {TokenVerifier, type VerifierConfig} from '../issuer/verifier.js'
import {
  ALGORITHMS,
  type Algorithm,
  type RequestContext,
  type TokenClaims,
  type VerifyOptions,
  type VerifyResult,
} from '../core/token.js'
import {Keyring, type VerificationKey} from '../keys/keyring.js'
import {importKey} from '../keys/signing-key.js'
import {checkIssuerUrl, requestJson} from './http-client.js'
import {RevocationFollower, type FollowerOptions} from './revocation-follower.js'
import type {TokenState} from '../core/token.js'

export interface VerifierOptions {
  /** A `cape issuer serve` base URL: its RFC 8414 metadata gives the iss, the JWKS and the introspection endpoint. */
  issuerUrl?: string
  /** The JWKS to verify signatures with, when there is no issuerUrl (then `issuer` is required). */
  jwksUrl?: string
  /** The `iss` tokens must carry; default: the metadata's issuer. */
  issuer?: string
  /** The `aud` values accepted (a token must carry one); default: the issuer's, from its metadata. */
  audience?: string | readonly string[]
  /**
   * A token (scope `introspect`; with only `api` it learns of its own subject's tokens alone) to
   * ask the issuer with, on every verification, whether the token is still active: revocation
   * then takes effect at once. Without it only signature and claims
   * are checked, and a revoked token passes until it expires.
   */
  introspectionToken?: string
  /** Default: the metadata's introspection endpoint. */
  introspectionUrl?: string
  /** Per request to the issuer; default 5000. */
  timeoutMs?: number
  /** The JWKS is fetched again in the background once it is this old; default 5 minutes. */
  jwksMaxAgeMs?: number
  /** An unknown kid fetches the JWKS again at most this often; default 30 s. */
  jwksCooldownMs?: number
  /**
   * Revocations from the issuer's feed (`GET /v1/revocations`, followed with `introspectionToken`)
   * instead of an introspection per call: signatures, claims and revocation are all checked here.
   * A token with a rate limit is still introspected, since its count is kept by the issuer.
   */
  feed?: boolean
  /** Default: `/v1/revocations` of the issuerUrl. */
  feedUrl?: string
  /** With the feed silent (no event, no heartbeat) for longer than this, every token is refused with `issuer_unavailable`; default 5000. */
  feedStaleAfterMs?: number
}

/** The verifier a service keeps for its lifetime. Reasons are the same codes as cape's own. */
export interface Verifier {
  /** The iss it accepts. */
  readonly issuer: string
  verify(token: string, context?: VerifyOptions): Promise<VerifyResult>
  /** Stops following the revocation feed, if it follows one. */
  close(): void
}

interface Metadata {
  issuer?: unknown
  jwks_uri?: unknown
  introspection_endpoint?: unknown
  cape_audience?: unknown
}

/**
 * A verifier for services that accept cape tokens: signatures and claims checked here against
 * the issuer's JWKS (fetched once, then refreshed), revocation asked of the issuer by RFC 7662
 * introspection when given a token to ask with. Fails fast: the JWKS is fetched before it
 * returns, so a wrong URL shows at start-up, not at the first request.
 */
export async function createVerifier(options: VerifierOptions): Promise<Verifier> {
  const timeoutMs = options.timeoutMs
  const metadata = options.issuerUrl === undefined ? {} : await discover(options.issuerUrl, timeoutMs)
  const jwksUrl = options.jwksUrl ?? stringOrUndefined(metadata.jwks_uri)
  const issuer = options.issuer ?? stringOrUndefined(metadata.issuer)
  if (jwksUrl === undefined) throw usage('createVerifier needs jwksUrl or issuerUrl')
  if (issuer === undefined) throw usage('createVerifier needs issuer (the iss to accept) when given only jwksUrl')
  const audienceOption = options.audience ?? stringArrayOrUndefined(metadata.cape_audience)
  if (audienceOption === undefined) throw usage('createVerifier needs audience when given only jwksUrl')
  const audience = typeof audienceOption === 'string' ? [audienceOption] : [...audienceOption]
  if (audience.length === 0) throw usage('createVerifier needs at least one audience')

  let introspectionUrl: string | undefined
  if (options.introspectionToken !== undefined) {
    introspectionUrl = options.introspectionUrl ?? stringOrUndefined(metadata.introspection_endpoint)
    if (introspectionUrl === undefined) throw usage('introspectionToken needs introspectionUrl, or an issuerUrl whose metadata names one')
    introspectionUrl = checkIssuerUrl(introspectionUrl, 'introspection URL')
  } else if (options.introspectionUrl !== undefined) {
    throw usage('introspectionUrl needs introspectionToken: a token with scope "introspect" to ask the issuer with')
  }

  const jwks = new RemoteJwks(checkIssuerUrl(jwksUrl, 'JWKS URL'), {
    timeoutMs,
    maxAgeMs: options.jwksMaxAgeMs ?? 5 * 60_000,
    cooldownMs: options.jwksCooldownMs ?? 30_000,
  })
  const keyring = await jwks.fetch()
  const introspect = introspectionUrl && introspector(introspectionUrl, options.introspectionToken!, timeoutMs)
  const follower = options.feed ? await RevocationFollower.start(feedOptions(options)) : undefined
  const verifier = new TokenVerifier({
    issuer,
    audience,
    keyring,
    refreshKeys: (loaded) => jwks.refresh(loaded),
    lookup: follower && introspect ? fromFeed(follower, introspect) : introspect || claimsOnly,
  })

  return {
    issuer,
    verify(token, context) {
      jwks.refreshInBackgroundIfOld(verifier)
      return verifier.verify(token, context)
    },
    close() {
      follower?.close()
    },
  }
}

function feedOptions(options: VerifierOptions): FollowerOptions {
  if (options.introspectionToken === undefined) {
    throw usage('feed needs introspectionToken: a token with scope "introspect", bound to no account, to follow the feed with')
  }

  const url = options.feedUrl ?? (options.issuerUrl === undefined ? undefined : `${checkIssuerUrl(options.issuerUrl)}/v1/revocations`)
  if (url === undefined) throw usage('feed needs feedUrl or issuerUrl')
  return {url: checkIssuerUrl(url, 'feed URL'), bearer: options.introspectionToken, staleAfterMs: options.feedStaleAfterMs}
}

/** Revocation from the feed; a rate-limited token from introspection, since only the issuer can count its uses. */
function fromFeed(follower: RevocationFollower, introspect: ReturnType<typeof introspector>): VerifierConfig['lookup'] {
  return (claims, foreignKid, token, request) =>
    claims.restrictions?.rateLimit
      ? introspect(claims, foreignKid, token, request)
      : {name: '', revokedAt: follower.revokedAt(claims.jti), account: claims.account ?? null}
}

/** Without introspection the signed claims are all there is: the token counts as not revoked. */
function claimsOnly(claims: Readonly<TokenClaims>): TokenState {
  return {name: '', revokedAt: null, account: claims.account ?? null}
}

/**
 * RFC 7662: active or not, and, when active, its name and account. An inactive token counts as
 * revoked. The request's address and Referer go along (cape's extension), so the issuer enforces
 * the token's restrictions and rate limit; a refusal for those also comes back as inactive.
 */
function introspector(url: string, bearer: string, timeoutMs: number | undefined) {
  return async (_claims: Readonly<TokenClaims>, _foreignKid: string | undefined, token: string, request: RequestContext | undefined): Promise<TokenState> => {
    const form: Record<string, string> = {token}
    if (request?.ip !== undefined) form.ip = request.ip
    if (typeof request?.referrer === 'string') form.referrer = request.referrer
    const response = await requestJson(url, {method: 'POST', bearer, form, timeoutMs})
    const body = response.body as {active?: unknown; username?: unknown; account?: unknown} | undefined
    if (response.status === 401 || response.status === 403) {
      throw new CapeError('access_denied', `the issuer refused the introspection token (${response.status}): give createVerifier a valid token with scope "introspect"`)
    }

    if (response.status !== 200 || typeof body?.active !== 'boolean') {
      throw new CapeError('issuer_unavailable', `the issuer's introspection answered ${response.status}`)
    }

    if (!body.active) return {name: '', revokedAt: 0, account: null}
    return {
      name: typeof body.username === 'string' ? body.username : '',
      revokedAt: null,
      account: typeof body.account === 'string' ? body.account : null,
    }
  }
}

async function discover(issuerUrl: string, timeoutMs: number | undefined): Promise<Metadata> {
  const url = `${checkIssuerUrl(issuerUrl)}/.well-known/oauth-authorization-server`
  const response = await requestJson(url, {timeoutMs})
  if (response.status !== 200 || typeof response.body !== 'object' || response.body === null) {
    throw new CapeError('issuer_unavailable', `no issuer metadata at ${url} (${response.status})`)
  }

  return response.body as Metadata
}

/** A remote JWKS: fetched, kept, fetched again when old or when a token names an unknown kid. */
class RemoteJwks {
  private fetchedAt = 0
  private attemptedAt = 0
  private refreshing: Promise<Keyring | undefined> | undefined

  constructor(
    private readonly url: string,
    private readonly options: {timeoutMs: number | undefined; maxAgeMs: number; cooldownMs: number},
  ) {}

  async fetch(): Promise<Keyring> {
    const response = await requestJson(this.url, {timeoutMs: this.options.timeoutMs})
    const keys = (response.body as {keys?: unknown} | undefined)?.keys
    if (response.status !== 200 || !Array.isArray(keys)) {
      throw new CapeError('issuer_unavailable', `no JWKS at ${this.url} (${response.status})`)
    }

    this.fetchedAt = Date.now()
    const usable = await Promise.all(keys.map((jwk: unknown) => toVerificationKey(jwk)))
    return Keyring.of(usable.filter((key): key is VerificationKey => key !== undefined))
  }

  /** A keyring with another key set than `loaded`, or undefined (unchanged, too soon, or unreachable). */
  refresh(loaded: readonly string[]): Promise<Keyring | undefined> {
    // Failed attempts count too: an issuer that is down is asked again only after the cool-down.
    const now = Date.now()
    if (now - Math.max(this.fetchedAt, this.attemptedAt) < this.options.cooldownMs) return Promise.resolve(undefined)
    this.attemptedAt = now
    this.refreshing ??= this.fetch()
      .then((keyring) => (keyring.kids.join() === loaded.join() ? undefined : keyring))
      .catch(() => undefined)
      .finally(() => {
        this.refreshing = undefined
      })
    return this.refreshing
  }

  /** Old keys are replaced without holding up the request; a key dropped from the JWKS stops verifying. */
  refreshInBackgroundIfOld(verifier: TokenVerifier): void {
    if (this.refreshing !== undefined || Date.now() - this.fetchedAt < this.options.maxAgeMs) return
    void this.refresh(verifier.kids).then((keyring) => keyring && verifier.useKeyring(keyring))
  }
}

/** A public signing key of one of cape's algorithms, or undefined for anything else in the set. */
async function toVerificationKey(jwk: unknown): Promise<VerificationKey | undefined> {
  if (typeof jwk !== 'object' || jwk === null) return undefined
  const {kid, alg, use, d} = jwk as Record<string, unknown>
  if (typeof kid !== 'string' || !ALGORITHMS.includes(alg as Algorithm) || (use !== undefined && use !== 'sig') || d !== undefined) {
    return undefined
  }

  try {
    return {kid, alg: alg as Algorithm, key: await importKey(jwk as Record<string, string>, alg as Algorithm)}
  } catch {
    return undefined
  }
}

const stringOrUndefined = (value: unknown) => (typeof value === 'string' ? value : undefined)
const stringArrayOrUndefined = (value: unknown) =>
  Array.isArray(value) && value.every((entry) => typeof entry === 'string') ? (value as string[]) : undefined
const usage = (message: string) => new CapeError('invalid_argument', message)
