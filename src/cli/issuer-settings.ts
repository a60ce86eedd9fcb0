import {describeDuration} from '../core/duration.js'
import type {IssuerSettings} from '../issuer/types.js'

/** The issuer's settings in one line, as `issuer init` and `issuer config` print them. */
export function describeSettings(settings: IssuerSettings): string {
  const lifetime = settings.maxLifetimeSeconds === null ? 'no maximum lifetime' : `tokens live at most ${describeDuration(settings.maxLifetimeSeconds)}`
  return `${settings.issuer} (alg ${settings.algorithm}, audience ${settings.audience.join(', ')}, subject ${settings.defaultSubject}, keys in ${settings.keyStorage === 'keychain' ? 'the OS keychain' : 'files'}, ${lifetime})`
}
