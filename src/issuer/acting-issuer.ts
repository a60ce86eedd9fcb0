import {CapeError} from '../core/errors.js'
import {type Authority, authorityOf, canReach, checkRotation, delegate, type DelegationRequest} from './authority.js'
import type {
  AuditEvent,
  CreatedToken,
  IssuerClient,
  RevokedToken,
  RevokeTokenOptions,
  RotatedToken,
  TokenRecord,
  VerifyResult,
} from './types.js'

/**
 * How many generations of tokens may be minted through tokens. Every use of a rate-limited token
 * also counts in each ancestor's window, so a deeper lineage would make one request many writes.
 */
export const MAX_LINEAGE_DEPTH = 8

/** The caller behind a request: a token that verified, its id and its authority. */
export interface Caller extends Authority {
  id: string
}

/** The caller a verified token stands for: its authority as signed into it. */
export function callerOf(verified: Extract<VerifyResult, {valid: true}>): Caller {
  return {
    id: verified.id,
    ...authorityOf({
      subject: verified.subject,
      scopes: verified.scopes,
      account: verified.account,
      restrictions: verified.claims.restrictions,
      expiresAt: verified.expiresAt,
    }),
  }
}

export interface MintRequest extends DelegationRequest {
  name: string
  description?: string | undefined
}

/**
 * The issuer as one token may use it: every operation done *through a token* (the HTTP API,
 * remote commands, the console) comes here, so the authority rule of `authority.ts` holds at
 * every door. Tokens beyond the caller's reach are "not found", as if they did not exist.
 */
export class ActingIssuer {
  constructor(
    private readonly issuer: IssuerClient,
    readonly caller: Caller,
    private readonly now: () => number = Date.now,
  ) {}

  listTokens(options: {includeRevoked?: boolean} = {}): Promise<TokenRecord[]> {
    const {subject, account} = this.caller
    return this.issuer.listTokens({includeRevoked: options.includeRevoked ?? false, subject, account: account ?? undefined})
  }

  async getToken(id: string): Promise<TokenRecord> {
    const token = await this.issuer.getToken(id).catch((error: unknown) => {
      if (error instanceof CapeError && error.code === 'token_not_found') return undefined
      throw error
    })
    // Another subject's (or account's) token is "not found": its existence is none of the caller's business.
    if (!token || !canReach(this.caller, token)) throw new CapeError('token_not_found', `no token ${id}`)
    return token
  }

  async tokenTrail(id: string): Promise<AuditEvent[]> {
    return this.issuer.tokenTrail((await this.getToken(id)).id)
  }

  /** A token for the caller's subject, within its authority, recorded as its child. */
  async createToken(request: MintRequest): Promise<CreatedToken> {
    const granted = delegate(this.caller, request, this.now())
    await this.checkDepth()
    return this.issuer.createToken({
      name: request.name,
      description: request.description,
      subject: this.caller.subject,
      ...granted,
      parent: this.caller.id,
    })
  }

  /** Refuses to mint through a token that is itself MAX_LINEAGE_DEPTH generations down. */
  private async checkDepth(): Promise<void> {
    let parent = (await this.issuer.getToken(this.caller.id)).parent
    for (let depth = 1; parent !== null; depth++) {
      if (depth >= MAX_LINEAGE_DEPTH) {
        throw new CapeError('authority_exceeded', `tokens can be minted through tokens at most ${MAX_LINEAGE_DEPTH} generations deep (depth)`, {
          reason: 'depth',
        })
      }

      parent = (await this.issuer.getToken(parent)).parent
    }
  }

  /** Only a token within the caller's authority; the new one ends no later than the caller. */
  async rotateToken(id: string, input: {graceSeconds?: number | undefined} = {}): Promise<RotatedToken> {
    const target = await this.getToken(id)
    checkRotation(authorityOf(target), this.caller)
    return this.issuer.rotateToken(target.id, {graceSeconds: input.graceSeconds, notAfter: this.caller.expiresAt ?? undefined})
  }

  async revokeToken(id: string, options: RevokeTokenOptions = {}): Promise<RevokedToken> {
    return this.issuer.revokeToken((await this.getToken(id)).id, options)
  }
}
