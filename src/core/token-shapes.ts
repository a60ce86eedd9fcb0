/**
 * Telling a token in free text (a URL, an argument echoed in an error) so it can be hidden:
 * a JWT (`eyJ...` header, three dot-separated base64url parts) or a prepared-token bundle
 * (`cape1.` + base64url). One pass over the text, no regular expression.
 */

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

function isTokenCharacter(character: string): boolean {
  return character === '.' || BASE64URL.includes(character)
}

export function looksLikeToken(word: string): boolean {
  if (word.startsWith('cape1.') && word.length > 16) return true
  if (!word.startsWith('eyJ')) return false
  const parts = word.split('.')
  return parts.length === 3 && parts[0]!.length >= 10 && parts[1]!.length > 0
}

/** The text with every token-shaped run of characters replaced by what `hide` makes of it. */
export function redactTokens(text: string, hide: (token: string) => string): string {
  let out = ''
  let index = 0
  while (index < text.length) {
    if (!isTokenCharacter(text[index]!)) {
      out += text[index]
      index++
      continue
    }

    let end = index
    while (end < text.length && isTokenCharacter(text[end]!)) end++
    const word = text.slice(index, end)
    out += looksLikeToken(word) ? hide(word) : word
    index = end
  }

  return out
}
