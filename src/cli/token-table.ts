import Table from 'cli-table3'

import {EXPIRY_WARNING_MS} from '../credentials/expiry.js'
import type {TokenRecord} from '../issuer/types.js'
import {escapeForTerminal} from './terminal-text.js'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const pad = (value: number) => String(value).padStart(2, '0')

/** Cape's format, in local time: `Jan 10 2023 11:55`. */
export function formatDate(iso: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return 'invalid'
  return `${MONTHS[date.getMonth()]} ${pad(date.getDate())} ${date.getFullYear()} ${pad(date.getHours())}:${pad(date.getMinutes())}`
}

const UNITS: Array<[string, number]> = [
  ['year', 365 * 86_400_000],
  ['month', 30 * 86_400_000],
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
]

/** "in 3 days", "2 months ago", "in less than a minute": the largest unit that fits, rounded down. */
export function relativeTime(iso: string, now = Date.now()): string {
  const delta = Date.parse(iso) - now
  const distance = Math.abs(delta)
  const [unit, size] = UNITS.find(([, length]) => distance >= length) ?? ['', 0]
  if (size === 0) return delta >= 0 ? 'in less than a minute' : 'less than a minute ago'
  const count = Math.floor(distance / size)
  const amount = `${count} ${unit}${count === 1 ? '' : 's'}`
  return delta >= 0 ? `in ${amount}` : `${amount} ago`
}

/** EXPIRES as a relative time; `(soon)` within the 7 days your own token is warned about, `(expired)` past it. */
export function describeExpiry(token: Pick<TokenRecord, 'expiresAt' | 'status'>, now = Date.now()): string {
  if (token.status === 'invalid') return 'invalid'
  if (token.expiresAt === null) return 'never'
  const relative = relativeTime(token.expiresAt, now)
  if (token.status === 'expired' || Date.parse(token.expiresAt) <= now) return `${relative} (expired)`
  return Date.parse(token.expiresAt) - now <= EXPIRY_WARNING_MS ? `${relative} (soon)` : relative
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
      describeExpiry(token),
    ]
    if (options.withStatus) row.push(token.status)
    table.push(row.map((cell) => escapeForTerminal(cell)))
  }

  return table.toString()
}
