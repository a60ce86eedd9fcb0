import Table from 'cli-table3'

import {BaseCommand} from '../../cli/base-command.js'
import {formatDate} from '../../core/time-text.js'
import type {IssuerStatus} from '../../issuer/types.js'

export default class IssuerStatusCommand extends BaseCommand {
  static override summary = 'Show the store in use, its change log, and the issuer instances serving from it.'
  static override description = `Instances are the "issuer serve" processes that reported themselves in the last 15 seconds.
BEHIND counts the revocations an instance has not read yet: each reads them within a second, and one
that cannot hear the store for 5 seconds refuses to verify until it can.`

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<IssuerStatus> {
    await this.parse(IssuerStatusCommand)
    const status = await (await this.issuer()).status()
    this.log(`Store:    ${status.store.kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'} ${status.store.where}`)
    this.log(`Issuer:   ${status.issuer ?? 'not set up yet'}`)
    this.log(`Changes:  ${status.changes} revocations and rotations in the change log`)
    if (status.instances.length === 0) {
      this.log('No instance is serving from this store.')
      return status
    }

    const table = new Table({head: ['INSTANCE', 'HOST', 'PID', 'STARTED', 'LAST SEEN', 'BEHIND'], style: {head: [], border: []}})
    for (const instance of status.instances) {
      table.push([instance.id.slice(0, 8), instance.host, instance.pid, formatDate(instance.startedAt), formatDate(instance.seenAt), instance.behind])
    }

    this.log(table.toString())
    return status
  }
}
