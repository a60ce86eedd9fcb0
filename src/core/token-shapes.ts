/**
 * Telling a token in free text (a URL, an argument echoed in an error) so it can be hidden:
 * a JWT (`eyJ...` header, three dot-separated base64url parts) or a prepared-token bundle
 * (`cape1.` + base64url). One pass over the text, no regular expression.
 */

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

function isTokenCharacter(character: string): boolean {
  return character === '.' || BASE64URL.includes(character)
}

/**
 * Where a token stands inside a run of token characters, however it is glued to what is around
 * it (`x.eyJ...`, `eyJ....`): the first `cape1.` bundle, which runs to the end, or the first
 * `eyJ` that starts three dot-separated parts. Undefined when there is none.
 */
function tokenSpan(run: string): [number, number] | undefined {
  const bundle = run.indexOf('cape1.')
  if (bundle !== -1 && run.length - bundle > 16) return [bundle, run.length]
  let from = run.indexOf('eyJ')
  while (from !== -1) {
    const first = run.indexOf('.', from)
    const second = first === -1 ? -1 : run.indexOf('.', first + 1)
    if (first - from >= 10 && second > first + 1) {
      let end = second + 1
      while (end < run.length && run[end] !== '.') end++
      return [from, end]
    }

    from = run.indexOf('eyJ', from + 1)
  }

  return undefined
}

/** The text with every token in it replaced by what `hide` makes of it. */
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
    out += redactRun(text.slice(index, end), hide)
    index = end
  }

  return out
}

function redactRun(run: string, hide: (token: string) => string): string {
  const span = tokenSpan(run)
  if (span === undefined) return run
  const [start, end] = span
  return `${run.slice(0, start)}${hide(run.slice(start, end))}${redactRun(run.slice(end), hide)}`
}
