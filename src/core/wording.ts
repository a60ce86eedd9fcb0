/**
 * Text that names commands of this CLI. Library code names a command by its words after the
 * binary, never by the binary: the same commands may run under another one (an oclif host CLI
 * that installs them as a plugin). Whoever prints the text knows the binary and fills it in.
 */

/** The binary package.json declares: the one a text names when its reader's binary is not known. */
export const PACKAGE_BIN = 'cape'

/** A command of this CLI as the words typed after the binary: `login --profile work`. */
export class CommandLine {
  constructor(readonly words: readonly string[]) {}

  /** As typed under `bin`, each word quoted for a POSIX shell where it needs it. */
  under(bin: string): string {
    return [bin, ...this.words.map(shellWord)].join(' ')
  }
}

export function command(...words: string[]): CommandLine {
  return new CommandLine(words)
}

type Part = string | CommandLine

/** Text whose commands are written out only when it is worded for a reader, under their binary. */
export class Wording {
  private constructor(private readonly parts: readonly Part[]) {}

  static of(text: Part | Wording): Wording {
    return text instanceof Wording ? text : new Wording([text])
  }

  static join(items: readonly (Part | Wording)[], separator: string): Wording {
    return new Wording(items.flatMap((item, index) => [...(index === 0 ? [] : [separator]), ...Wording.of(item).parts]))
  }

  /** The text for whoever runs the commands as `bin`. */
  for(bin: string): string {
    return this.parts.map((part) => (typeof part === 'string' ? part : part.under(bin))).join('')
  }
}

/** A template tag: ``wording`run "${command('login')}", or pass --token` ``. */
export function wording(strings: TemplateStringsArray, ...values: Array<string | number | CommandLine | Wording>): Wording {
  const items = strings.flatMap((text, index) => {
    const value = values[index]
    return value === undefined ? [text] : [text, typeof value === 'number' ? String(value) : value]
  })
  return Wording.join(items, '')
}

/** A word as a POSIX shell reads it back: bare when it is plainly safe, else in single quotes. */
export function shellWord(value: string): string {
  return /^[\w.@:/-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`
}
