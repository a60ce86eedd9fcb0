import {Args} from '@oclif/core'
import Table from 'cli-table3'

import {ClientCommand} from '../../cli/client-command.js'
import {credentialFlags} from '../../cli/credential-flags.js'
import {escapeForTerminal} from '../../cli/terminal-text.js'
import {describeExpiry} from '../../cli/expiry-text.js'
import {formatDate} from '../../core/time-text.js'
import type {AuditEvent, TokenRecord} from '../../issuer/types.js'

export interface TokenShowResult extends TokenRecord {
  trail: AuditEvent[]
}

export default class TokenShow extends ClientCommand {
  static override summary = "Show a token's metadata, restrictions and trail: created, used, rotated, revoked, refused."
  static override examples = ['<%= config.bin %> <%= command.id %> jyjS3x9S9TgNEVaVaR2P2P', '<%= config.bin %> <%= command.id %> jyjS3x9S9TgNEVaVaR2P2P --json']

  static override args = {
    id: Args.string({description: 'the token id (the ID column of `cape token list`)', required: true}),
  }

  static override flags = {...credentialFlags}

  async run(): Promise<TokenShowResult> {
    const {args, flags} = await this.parse(TokenShow)
    const issuer = await this.client(flags)
    const [token, trail] = await Promise.all([issuer.getToken(args.id), issuer.tokenTrail(args.id)])
    this.log(describeToken(token))
    this.log('')
    this.log(trail.length === 0 ? 'Trail: nothing recorded' : renderTrail(trail))
    return {...token, trail}
  }
}

function describeToken(token: TokenRecord): string {
  const {restrictions} = token
  const lines = [
    `ID:           ${token.id}`,
    `Name:         ${token.name}`,
    `Description:  ${token.description ?? ''}`,
    `Subject:      ${token.subject}`,
    `Scopes:       ${token.scopes.join(' ') || '(none)'}`,
    `Account:      ${token.account ?? 'any'}`,
    `Parent:       ${token.parent ?? 'none (made by the issuer\'s owner)'}`,
    `Status:       ${token.status}${token.rotatedTo ? ` (rotated to ${token.rotatedTo})` : ''}`,
    `Created:      ${formatDate(token.createdAt)}`,
    `Expires:      ${describeExpiry(token, 'relative')}`,
    `Last used:    ${token.lastUsedAt === null ? 'never' : `${formatDate(token.lastUsedAt)}${token.lastUsedIp ? ` from ${token.lastUsedIp}` : ''}`}`,
  ]
  if (token.revokedAt !== null) {
    const scheduled = token.status === 'revoked' ? '' : ' (at the end of its grace period)'
    lines.push(`Revoked:      ${formatDate(token.revokedAt)}${scheduled}`)
  }

  lines.push(
    `Addresses:    ${restrictions?.addresses?.join(', ') ?? 'any'}`,
    `Referrers:    ${restrictions?.referrers?.join(', ') ?? 'any'}`,
    `Rate limit:   ${restrictions?.rateLimit ? `${restrictions.rateLimit.maxRequests} per ${restrictions.rateLimit.timeWindow} s` : 'none'}`,
  )
  // Each line on its own: a value from outside can neither act on the terminal nor start a line.
  return lines.map((line) => escapeForTerminal(line)).join('\n')
}

function renderTrail(trail: readonly AuditEvent[]): string {
  const table = new Table({head: ['AT', 'EVENT', 'DETAIL'], style: {head: [], border: []}})
  for (const entry of trail) {
    const times = entry.count > 1 ? ` (${entry.count} times)` : ''
    table.push([formatDate(entry.at), entry.event.replace('_', ' '), `${entry.detail ?? ''}${times}`].map((cell) => escapeForTerminal(cell)))
  }

  return table.toString()
}
