import {Flags} from '@oclif/core'

import {ClientCommand} from '../../cli/client-command.js'
import {credentialFlags} from '../../cli/credential-flags.js'
import {renderTokenTable} from '../../cli/token-table.js'
import type {TokenRecord} from '../../issuer/types.js'

export default class TokenList extends ClientCommand {
  static override summary = 'List your tokens (never the tokens themselves, which are not stored).'
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --all --json']

  static override flags = {
    all: Flags.boolean({char: 'a', description: 'include revoked tokens, with a STATUS column'}),
    ...credentialFlags,
  }

  async run(): Promise<TokenRecord[]> {
    const {flags} = await this.parse(TokenList)
    const issuer = await this.client(flags)
    const tokens = await issuer.listTokens({includeRevoked: flags.all})

    if (tokens.length === 0) {
      const create = this.commandLine('token', 'create', '--name', 'NAME')
      this.log(flags.all ? `No tokens yet. Create one with: ${create}` : `No active tokens. Create one with: ${create} (--all shows revoked ones)`)
    } else {
      this.log(renderTokenTable(tokens, {withStatus: flags.all}))
    }

    return tokens
  }
}
