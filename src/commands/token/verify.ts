import {Args, Flags} from '@oclif/core'

import {ClientCommand} from '../../cli/client-command.js'
import {credentialFlags} from '../../cli/credential-flags.js'
import {referrerFlag, requestAddressFlag, scopeFlag} from '../../cli/flags.js'
import {readSecretFromStdin} from '../../credentials/stdin.js'
import {escapeForTerminal} from '../../cli/terminal-text.js'
import {CapeError, EXIT_CODES} from '../../core/errors.js'
import type {RateLimitStatus, TokenClaims, VerifyResult} from '../../issuer/types.js'

export type TokenVerifyResult =
  | {valid: true; id: string; subject: string; name: string; claims: Readonly<TokenClaims>; rateLimit?: RateLimitStatus}
  | {valid: false; reason: string; rateLimit?: RateLimitStatus; successor?: string}

export default class TokenVerify extends ClientCommand {
  static override summary = 'Check a token: signature, claims, revocation and, if asked, scopes.'
  static override description = `Exit status 0 when the token is valid, 1 with the reason when it is not.
Pass "-" to read the token from stdin and keep it out of your shell history.
Against this machine's issuer it is a check, not a use: nothing is recorded (last used, trail, rate-limit
count) and a token rotated away is reported as revoked, with its successor, without triggering reuse detection.
Against an issuer service (--issuer-url) the service introspects it, which counts as a use.`

  static override examples = [
    'echo "$TOKEN" | <%= config.bin %> <%= command.id %> -',
    'echo "$TOKEN" | <%= config.bin %> <%= command.id %> - --ip 203.0.113.7 --referrer https://app.example.com/',
    '<%= config.bin %> <%= command.id %> eyJhbGciOi... --scope api --json',
  ]

  static override args = {
    token: Args.string({description: 'the token, or - to read it from stdin'}),
  }

  static override flags = {
    scope: scopeFlag({char: 's', description: 'scope the token must grant (repeatable)'}),
    account: Flags.string({description: 'the account the token is used for (refused if bound to another)'}),
    ip: requestAddressFlag({description: "check the token's restrictions as for a request from this address"}),
    referrer: referrerFlag({description: "check the token's restrictions as for a request with this Referer"}),
    ...credentialFlags,
  }

  async run(): Promise<TokenVerifyResult> {
    const {args, flags} = await this.parse(TokenVerify)
    if (args.token === undefined) {
      throw new CapeError('missing_input', 'no token given: pass it as an argument, or - to read it from stdin')
    }

    const token = args.token === '-' ? await readSecretFromStdin() : args.token
    const issuer = await this.client(flags)
    const request = flags.ip === undefined && flags.referrer === undefined ? undefined : {ip: flags.ip, referrer: flags.referrer ?? null}
    const result = await issuer.verifyToken(token, {requiredScopes: flags.scope, account: flags.account, request, purpose: 'check'})
    if (!result.valid) {
      process.exitCode = EXIT_CODES.failure
      const {reason, rateLimit, successor} = result
      if (!this.jsonEnabled()) process.stderr.write(`${escapeForTerminal(`Invalid token: ${reason}${successor ? ` (rotated; replaced by ${successor})` : ''}`)}\n`)
      return {valid: false, reason, ...(rateLimit ? {rateLimit} : {}), ...(successor ? {successor} : {})}
    }

    this.log(describeValid(result))
    const {id, subject, name, claims, rateLimit} = result
    return rateLimit ? {valid: true, id, subject, name, claims, rateLimit} : {valid: true, id, subject, name, claims}
  }
}

function describeValid(result: Extract<VerifyResult, {valid: true}>): string {
  return [
    `Valid token ${result.id} ("${result.name}")`,
    `subject: ${result.subject}`,
    `scopes:  ${result.scopes.join(' ') || '(none)'}`,
    `expires: ${result.expiresAt ?? 'never'}`,
  ]
    .map((line) => escapeForTerminal(line))
    .join('\n')
}
