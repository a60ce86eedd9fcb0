/**
 * Text that came from outside (names, descriptions, addresses, referrers, trail entries,
 * subjects, error messages) made safe to print to a terminal: control characters and the bidi
 * controls that reorder a line are shown as escapes (`\x1b`, `\u202e`) instead of acting on the
 * terminal. JSON output needs none of this and gets none.
 */
export function escapeForTerminal(text: string, options: {keepNewlines?: boolean} = {}): string {
  let out = ''
  for (const character of text) {
    const code = character.codePointAt(0)!
    out += isUnsafe(code) && !(options.keepNewlines && code === 0x0a) ? escapeCode(code) : character
  }

  return out
}

function isUnsafe(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  )
}

function escapeCode(code: number): string {
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
}
