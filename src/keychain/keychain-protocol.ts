/** Messages between the CLI and its keychain child process (see keychain-broker.ts). */
export type KeychainRequest =
  | {op: 'get'; service: string; account: string}
  | {op: 'set'; service: string; account: string; secret: string}
  | {op: 'delete'; service: string; account: string}

export type KeychainReply = {ok: true; value: string | boolean | null} | {ok: false; message: string}
