import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

/** Every regular file under `dir` whose bytes contain `needle`. */
export function filesContaining(dir: string, needle: string): string[] {
  const found: string[] = []
  const walk = (path: string) => {
    for (const entry of readdirSync(path, {withFileTypes: true})) {
      const full = join(path, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.isFile() && readFileSync(full).includes(needle)) found.push(full)
    }
  }

  walk(dir)
  return found
}
