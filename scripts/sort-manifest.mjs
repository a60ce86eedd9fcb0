// oclif lists commands in the order its file walk meets them, which varies from run to run for
// nested topics (issuer keys *). Sorted, the committed manifest is the same on every machine, so
// CI's check that it is not stale cannot fail by chance.
import {readFileSync, writeFileSync} from 'node:fs'

const path = new URL('../oclif.manifest.json', import.meta.url)
const manifest = JSON.parse(readFileSync(path, 'utf8'))
manifest.commands = Object.fromEntries(Object.entries(manifest.commands).sort(([a], [b]) => a.localeCompare(b)))
writeFileSync(path, JSON.stringify(manifest, null, 2))
