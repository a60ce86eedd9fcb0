import Table from 'cli-table3'

import {BaseCommand} from '../../../cli/base-command.js'
import {formatDate} from '../../../core/time-text.js'
import type {SigningKeyInfo} from '../../../issuer/types.js'

export default class IssuerKeysList extends BaseCommand {
  static override summary = "List the issuer's signing keys: the active one, those still verifying, the retired."
  static override examples = ['<%= config.bin %> <%= command.id %>']

  async run(): Promise<SigningKeyInfo[]> {
    await this.parse(IssuerKeysList)
    const keys = await (await this.issuer()).signingKeys()
    const table = new Table({head: ['KID', 'ALG', 'STATUS', 'CREATED AT', 'RETIRED AT'], style: {head: [], border: []}})
    for (const key of keys) {
      table.push([key.kid, key.alg, key.status, formatDate(key.createdAt), key.retiredAt === null ? '' : formatDate(key.retiredAt)])
    }

    this.log(table.toString())
    return keys
  }
}
