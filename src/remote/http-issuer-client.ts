import {CapeError, httpStatusOf, isErrorCode} from '../core/errors.js'
import {grantsScopes} from '../issuer/rules.js'
import type {
  AuditEvent,
  CreatedToken,
  CreateTokenInput,
  IssuerClient,
  Jwks,
  ListTokensOptions,
  RevokedToken,
  RevokeTokenOptions,
  RotatedToken,
  RotateTokenInput,
  TokenClaims,
  TokenRecord,
  VerifyOptions,
  VerifyReason,
  VerifyResult,
} from '../issuer/types.js'
import type {Verifier} from '../verifier/remote-verifier.js'
import {requestJson, type RemoteRequest} from '../verifier/http-client.js'

const RESTRICTION_REASONS = new Set<string>(['ip_not_allowed', 'referrer_not_allowed', 'rate_limited'])

/**
 * The issuer behind `cape issuer serve`, through its HTTP API, with the caller's token as Bearer:
 * the same IssuerClient as the local one, so commands do not know the difference.
 */
export class HttpIssuerClient implements IssuerClient {
  private verifier: Promise<Verifier> | undefined

  constructor(
    readonly baseUrl: string,
    private readonly bearer: string,
    private readonly timeoutMs?: number,
  ) {}

  async createToken(input: CreateTokenInput): Promise<CreatedToken> {
    // The API would take a bound caller's account as the default; the CLI asks for it plainly.
    if (input.account === undefined) {
      throw new CapeError('invalid_argument', `${this.baseUrl} mints only account-bound tokens: pass --account ID`)
    }

    if (input.subject !== undefined) {
      throw new CapeError('invalid_argument', `--subject cannot be chosen at ${this.baseUrl}: its tokens are minted for your own subject`)
    }

    return this.call<CreatedToken>('/v1/tokens', {
      method: 'POST',
      json: {
        name: input.name,
        account: input.account,
        ...(input.description === undefined ? {} : {description: input.description}),
        ...(input.scopes === undefined || input.scopes.length === 0 ? {} : {scopes: input.scopes}),
        ...(input.expiresInSeconds === undefined ? {} : {expiresIn: input.expiresInSeconds}),
        ...(input.restrictions === undefined ? {} : {restrictions: input.restrictions}),
      },
    })
  }

  rotateToken(id: string, input: RotateTokenInput = {}): Promise<RotatedToken> {
    return this.call(`/v1/tokens/${encodeURIComponent(id)}/rotate`, {
      method: 'POST',
      json: input.graceSeconds === undefined ? {} : {grace: input.graceSeconds},
    })
  }

  tokenTrail(id: string): Promise<AuditEvent[]> {
    return this.call(`/v1/tokens/${encodeURIComponent(id)}/trail`)
  }

  listTokens(options: ListTokensOptions = {}): Promise<TokenRecord[]> {
    return this.call(`/v1/tokens${options.includeRevoked ? '?all=true' : ''}`)
  }

  getToken(id: string): Promise<TokenRecord> {
    return this.call(`/v1/tokens/${encodeURIComponent(id)}`)
  }

  revokeToken(id: string, options: RevokeTokenOptions = {}): Promise<RevokedToken> {
    return this.call(`/v1/tokens/${encodeURIComponent(id)}${options.cascade ? '?cascade=true' : ''}`, {method: 'DELETE'})
  }

  /**
   * The caller's own token is checked by the issuer itself (`/v1/whoami`), which tells its holder
   * why it is refused. Any other token is checked here against the issuer's JWKS, then asked of
   * its introspection endpoint; an inactive one that is otherwise sound counts as `revoked`,
   * since RFC 7662 tells no more.
   */
  async verifyToken(token: string, options: VerifyOptions = {}): Promise<VerifyResult> {
    if (token !== this.bearer) return (await this.loadVerifier()).verify(token, options)

    const response = await this.send('/v1/whoami')
    const body = response.body as (Omit<Extract<VerifyResult, {valid: true}>, 'valid'> & {reason?: VerifyReason}) | undefined
    if (response.status === 401) return {valid: false, reason: body?.reason ?? 'malformed'}
    // The token's own restrictions refused this request (403) or its rate limit is used up (429).
    const refusal = (response.body as {error?: string} | undefined)?.error
    if ((response.status === 403 || response.status === 429) && RESTRICTION_REASONS.has(refusal ?? '')) {
      return {valid: false, reason: refusal as VerifyReason}
    }

    if (response.status !== 200 || !body) throw this.failure(response.status, response.body)

    if (options.requiredScopes && !grantsScopes(body.scopes, options.requiredScopes)) return {valid: false, reason: 'insufficient_scope'}
    if (options.account !== undefined && body.account !== null && body.account !== options.account) {
      return {valid: false, reason: 'wrong_account'}
    }

    return {
      valid: true,
      id: body.id,
      subject: body.subject,
      name: body.name,
      scopes: body.scopes,
      expiresAt: body.expiresAt,
      account: body.account ?? null,
      claims: body.claims as TokenClaims,
    }
  }

  jwks(): Promise<Jwks> {
    return this.call('/.well-known/jwks.json')
  }

  async close(): Promise<void> {}

  private loadVerifier(): Promise<Verifier> {
    this.verifier ??= import('../verifier/remote-verifier.js').then(({createVerifier}) =>
      createVerifier({issuerUrl: this.baseUrl, introspectionToken: this.bearer, timeoutMs: this.timeoutMs}),
    )
    return this.verifier
  }

  private async call<T>(path: string, request: RemoteRequest = {}): Promise<T> {
    const response = await this.send(path, request)
    if (response.status >= 200 && response.status < 300) return response.body as T
    throw this.failure(response.status, response.body)
  }

  private send(path: string, request: RemoteRequest = {}) {
    return requestJson(`${this.baseUrl}${path}`, {...request, bearer: this.bearer, timeoutMs: this.timeoutMs})
  }

  /** The server's `{error, message}` as a CapeError the CLI reports like a local one. */
  private failure(status: number, body: unknown): CapeError {
    const {error, message, reason} = (body ?? {}) as {error?: unknown; message?: unknown; reason?: unknown}
    const text = typeof message === 'string' ? message : `the issuer answered ${status}`
    if (status === 401) {
      return new CapeError('invalid_token', `${this.baseUrl} refused your token: ${text}`, typeof reason === 'string' ? {reason} : {})
    }

    // A code of the table the server answers with: the CLI acts on it as on the same local failure.
    if (isErrorCode(error) && httpStatusOf(error) !== undefined) {
      return new CapeError(error, text, typeof reason === 'string' ? {reason} : {})
    }
    if (status === 403 || status === 429) return new CapeError('access_denied', `${this.baseUrl} refused: ${text}`)
    if (status === 404) return new CapeError('issuer_unavailable', `${this.baseUrl} has no such route (${text}): is it a cape issuer of this version?`)
    return new CapeError(status >= 500 ? 'issuer_unavailable' : 'invalid_argument', `${this.baseUrl}: ${text}`)
  }
}
