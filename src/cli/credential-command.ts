import {Flags} from '@oclif/core'

import {expiringWithin} from '../credentials/expiry.js'
import {InsecureFileStore} from '../credentials/insecure-file.js'
import {keychainTimeoutFromEnv, OsKeychain} from '../keychain/os-keychain.js'
import {DEFAULT_PROFILE, ProfileConfig} from '../credentials/profiles.js'
import {mayPrompt, promptSecret} from '../credentials/prompt.js'
import {resolveCredential} from '../credentials/resolve.js'
import type {Credential, SecretStore, StorageKind} from '../credentials/types.js'
import {peekClaims} from '../core/base64url-json.js'
import {CapeError} from '../core/errors.js'
import type {IssuerClient, VerifyResult} from '../issuer/types.js'
import {checkIssuerUrl} from '../verifier/http-client.js'
import {HttpIssuerClient} from '../remote/http-issuer-client.js'
import {BaseCommand} from './base-command.js'
import {escapeForTerminal} from './terminal-text.js'
import {readSecretFromStdin} from '../credentials/stdin.js'
import {describeSpan, formatDate} from '../core/time-text.js'

const CREDENTIAL = 'CREDENTIAL'

/** The flags of every command that acts as the caller. */
export const credentialFlags = {
  token: Flags.string({
    description: 'use this token instead of a stored one ("-" reads it from stdin, out of shell history)',
    helpGroup: CREDENTIAL,
  }),
  profile: Flags.string({
    description: 'stored credential to use (default: CAPE_PROFILE, else the active profile)',
    helpGroup: CREDENTIAL,
  }),
  'no-input': Flags.boolean({description: 'never prompt for a token', helpGroup: CREDENTIAL}),
  'issuer-url': Flags.string({
    description: 'work against this cape issuer service (default: CAPE_ISSUER_URL, else the profile\'s, else this machine)',
    helpGroup: CREDENTIAL,
  }),
}

export const profileFlag = credentialFlags.profile
export const issuerUrlFlag = credentialFlags['issuer-url']

interface CredentialFlags {
  token?: string | undefined
  profile?: string | undefined
  'no-input'?: boolean | undefined
  'issuer-url'?: string | undefined
}

export type ValidResult = Extract<VerifyResult, {valid: true}>

/** A command that acts as the caller, with a credential from the documented chain of sources. */
export abstract class CredentialCommand extends BaseCommand {
  private profileConfig: ProfileConfig | undefined
  private keychainStore: OsKeychain | undefined

  protected profiles(): ProfileConfig {
    this.profileConfig ??= ProfileConfig.load(this.home())
    return this.profileConfig
  }

  protected secretStore(kind: StorageKind): SecretStore {
    if (kind === 'file') return InsecureFileStore.in(this.home())
    this.keychainStore ??= new OsKeychain({timeoutMs: keychainTimeoutFromEnv()})
    return this.keychainStore
  }

  protected resolveCredential(flags: CredentialFlags, options: {prompt: boolean} = {prompt: true}): Promise<Credential> {
    const config = this.profiles()
    const profile = config.effectiveProfile(flags.profile)
    const prompt =
      options.prompt && mayPrompt({json: this.jsonEnabled(), noInput: flags['no-input'] ?? false})
        ? () => promptSecret('Paste your cape token: ')
        : undefined
    return resolveCredential({
      tokenFlag: flags.token,
      profile,
      record: config.record(profile),
      env: process.env,
      cwd: process.cwd(),
      keychain: this.secretStore('keychain'),
      file: this.secretStore('file'),
      readStdin: () => readSecretFromStdin(),
      prompt,
    })
  }

  /**
   * The remote issuer to work against, if any: --issuer-url, else CAPE_ISSUER_URL, else the URL
   * the profile was logged in at. Undefined: the issuer on this machine.
   */
  protected issuerUrl(flags: CredentialFlags): string | undefined {
    const fromEnv = process.env.CAPE_ISSUER_URL || undefined
    const url = flags['issuer-url'] ?? fromEnv ?? this.profiles().record(this.profiles().effectiveProfile(flags.profile))?.issuerUrl
    return url === undefined ? undefined : checkIssuerUrl(url)
  }

  /**
   * The issuer commands talk to: the local one, or, in remote mode, the HTTP API with the
   * caller's credential as Bearer. A command calls this instead of issuer() when it works remotely too.
   */
  protected async client(flags: CredentialFlags): Promise<IssuerClient> {
    const url = this.issuerUrl(flags)
    if (url === undefined) return this.issuer()
    return this.remote(url, (await this.resolveCredential(flags)).token)
  }

  protected remote(url: string, token: string): IssuerClient {
    return new HttpIssuerClient(url, token)
  }

  /**
   * Resolves the caller's credential and verifies it, without judging the result. The keychain
   * answers from a child process, so the verifier loads meanwhile rather than after. In remote
   * mode the issuer service checks it.
   */
  protected async checkCredential(
    flags: CredentialFlags,
    options: {prompt: boolean} = {prompt: true},
  ): Promise<{credential: Credential; issuer: IssuerClient; result: VerifyResult}> {
    const url = this.issuerUrl(flags)
    if (url !== undefined) {
      const credential = await this.resolveCredential(flags, options)
      const issuer = this.remote(url, credential.token)
      return {credential, issuer, result: await issuer.verifyToken(credential.token)}
    }

    const opening = this.issuer().then(async (issuer) => {
      await issuer.prepareToVerify()
      return issuer
    })
    opening.catch(() => {}) // handled when awaited below; unawaited only when resolving failed first
    const credential = await this.resolveCredential(flags, options)
    const issuer = await opening
    return {credential, issuer, result: await issuer.verifyToken(credential.token)}
  }

  /** Resolves the caller's credential and verifies it: refused with a message that says what to do. */
  protected async authenticate(flags: CredentialFlags): Promise<{credential: Credential; verified: ValidResult}> {
    const {credential, issuer, result} = await this.checkCredential(flags)
    if (!result.valid) throw await this.refusal(issuer, credential, result.reason)
    this.warnIfExpiringSoon(credential, result)
    return {credential, verified: result}
  }

  /** Why the credential is refused, naming the token where the verifier vouched for it. */
  protected async refusal(issuer: IssuerClient, credential: Credential, reason: string): Promise<CapeError> {
    const known = reason === 'expired' || reason === 'revoked' ? await this.nameOf(issuer, credential.token) : undefined
    if (!known) {
      return new CapeError('invalid_token', `the token from ${credential.location} is not valid (${reason})${this.fixFor(credential)}`, {reason})
    }

    const what = `your token "${known.name}" (${known.id})`
    const when =
      reason === 'revoked' ? 'has been revoked' : known.expiresAt ? `expired on ${formatDate(known.expiresAt)}` : 'has expired'
    return new CapeError('invalid_token', `${what} ${when}${this.fixFor(credential, known.name)}`, {reason})
  }

  /** The 7-day warning on stderr. `name` is undefined when cape cannot vouch for which token it is. */
  protected warnIfExpiringSoon(credential: Credential, token: {name?: string | undefined; expiresAt: string | null}): void {
    const left = expiringWithin(token.expiresAt, Date.now())
    if (left === undefined) return
    const which = token.name === undefined ? `from ${credential.location}` : `"${token.name}"`
    // The name may come from a remote issuer: nothing in it reaches the terminal as a control.
    process.stderr.write(
      escapeForTerminal(
        `Warning: your token ${which} expires in ${describeSpan(left, 'nearest')} (${formatDate(token.expiresAt!)})${this.fixFor(credential, token.name, 'replace it with')}`,
      ) + '\n',
    )
  }

  /**
   * Keeps a verified token for `profile` where asked, drops any copy in the other store, and
   * makes the profile the active one. Nothing is recorded unless the token was stored.
   */
  protected async saveCredential(input: {
    profile: string
    token: string
    verified: SavedTokenFacts
    storage: StorageKind
    /** The issuer service the token belongs to; undefined for this machine's. */
    issuerUrl: string | undefined
  }): Promise<string> {
    const {profile, storage} = input
    const config = this.profiles()
    const target = this.secretStore(storage)
    try {
      await target.set(profile, input.token)
    } catch (error) {
      throw storage === 'keychain' ? withFileHint(error) : error
    }

    // Leave no second copy behind: a stale one would shadow or outlive this token.
    if (storage === 'keychain') await this.secretStore('file').delete(profile)
    else if (config.record(profile)?.storage === 'keychain') await this.secretStore('keychain').delete(profile)

    config.setRecord(profile, {
      storage,
      tokenId: input.verified.id,
      name: input.verified.name,
      subject: input.verified.subject,
      expiresAt: input.verified.expiresAt,
      savedAt: new Date().toISOString(),
      ...(input.issuerUrl === undefined ? {} : {issuerUrl: input.issuerUrl}),
    })
    config.setActive(profile)
    config.save()
    return target.describe(profile)
  }

  /** Fails early, before anything is created, when the chosen store cannot take a token. */
  protected async checkStorage(profile: string, storage: StorageKind): Promise<void> {
    if (storage === 'file') return
    try {
      await this.secretStore('keychain').get(profile)
    } catch (error) {
      throw withFileHint(error)
    }
  }

  private fixFor(credential: Credential, name?: string, lead = 'create a new one with'): string {
    const profile = credential.profile && credential.profile !== DEFAULT_PROFILE ? ['--profile', credential.profile] : []
    switch (credential.source) {
      case 'keychain':
      case 'file':
      case 'prompt':
        return name
          ? `: ${lead} "${this.commandLine('token', 'create', '--name', name, '--save', ...profile)}", or store another with "${this.commandLine('login', ...profile)}"`
          : `: store a valid one with "${this.commandLine('login', ...profile)}"`
      case 'env':
        return ': set CAPE_TOKEN to a valid token'
      case 'dotenv':
        return `: replace ${credential.location}`
      default:
        return ''
    }
  }

  private async nameOf(
    issuer: IssuerClient,
    token: string,
  ): Promise<{id: string; name: string; expiresAt: string | null} | undefined> {
    const jti = peekClaims(token)?.jti
    if (typeof jti !== 'string') return undefined
    try {
      const record = await issuer.getToken(jti)
      return {id: record.id, name: record.name, expiresAt: record.expiresAt}
    } catch {
      return undefined
    }
  }
}

export interface SavedTokenFacts {
  id: string
  name: string
  subject: string
  expiresAt: string | null
}

function withFileHint(error: unknown): unknown {
  if (!(error instanceof CapeError) || error.code !== 'keychain_unavailable') return error
  return new CapeError(
    'keychain_unavailable',
    `${error.message}. Nothing was stored; --insecure-storage keeps the token in a plain-text file (0600) instead`,
    {cause: error},
  )
}
