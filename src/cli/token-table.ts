import Table from 'cli-table3'

import {formatDate} from '../core/time-text.js'
import type {TokenRecord} from '../issuer/types.js'
import {describeExpiry} from './expiry-text.js'
import {escapeForTerminal} from './terminal-text.js'

export function renderTokenTable(tokens: readonly TokenRecord[], options: {withStatus: boolean}): string {
  const head = ['ID', 'NAME', 'DESCRIPTION', 'CREATED AT', 'LAST USED', 'EXPIRES']
  if (options.withStatus) head.push('STATUS')
  const table = new Table({head, style: {head: [], border: []}})
  for (const token of tokens) {
    const row = [
      token.id,
      token.name,
      token.description ?? '',
      formatDate(token.createdAt),
      token.lastUsedAt === null ? 'never' : formatDate(token.lastUsedAt),
      describeExpiry(token, 'relative'),
    ]
    if (options.withStatus) row.push(token.status)
    table.push(row.map((cell) => escapeForTerminal(cell)))
  }

  return table.toString()
}
