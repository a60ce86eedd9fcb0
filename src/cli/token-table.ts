import Table from 'cli-table3'

import type {TokenRecord} from '../issuer/types.js'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const pad = (value: number) => String(value).padStart(2, '0')

/** Cape's format, in local time: `Jan 10 2023 11:55`. */
export function formatDate(iso: string): string {
  const date = new Date(iso)
  return `${MONTHS[date.getMonth()]} ${pad(date.getDate())} ${date.getFullYear()} ${pad(date.getHours())}:${pad(date.getMinutes())}`
}

function formatExpiry(token: TokenRecord): string {
  if (token.expiresAt === null) return 'never'
  return token.status === 'expired' ? `${formatDate(token.expiresAt)} (expired)` : formatDate(token.expiresAt)
}

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
      formatExpiry(token),
    ]
    if (options.withStatus) row.push(token.status)
    table.push(row)
  }

  return table.toString()
}
