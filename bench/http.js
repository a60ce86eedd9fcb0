// HTTP throughput on loopback, by autocannon: cape's introspection endpoint and a service guarded
// by capeFastify (JWKS only, and with introspection) against a bare Fastify hello world.
//
// The servers run in ONE child process (bench/http-servers.js) and autocannon here, in this one.
// autocannon is JavaScript on an event loop too: in the servers' process it would take turns with
// them, and every figure would measure load generator plus server on one core. Apart, on a 2-core
// machine the load generator has a core and the servers the other, which is also what a service
// meets in production (its callers are elsewhere). The servers share that one child because
// cape and the guarded service must share a machine anyway: with introspection each request is
// served twice (the service, then cape for it) and that cost belongs in the figure. Only one
// server is loaded at a time. CPU time of both processes is recorded per run: a load generator
// near 100% means the baseline is bounded by autocannon, not by Fastify. Where /proc/stat exists,
// so is the CPU that other processes took meanwhile: 2 cores leave no room for them, and a run
// they disturbed is taken again (see NOISE).
//
// Standalone: node bench/http.js (BENCH_QUICK=1 for 2 s runs instead of 5 s).
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import autocannon from 'autocannon'

import {formatRate, median, printTable, verdict} from './lib/measure.js'

const SERVERS = fileURLToPath(new URL('http-servers.js', import.meta.url))
const HELLO_BODY = JSON.stringify({hello: 'world'})

/** The goal: introspection of a token seen before at ≥ 80% of a bare Fastify route parsing the same form. */
export const INTROSPECTION_GOAL = 0.8

/** The goal: a route guarded by capeFastify with the revocation feed at ≥ 80% of a bare Fastify hello world. */
export const FEED_GOAL = 0.8

/** Other processes busier than this (a share of one core) during a run make it doubtful. */
const NOISE = 0.25

/**
 * Requests per second of each scenario: `warmupSeconds` of each first, then `rounds` rounds of
 * `durationSeconds` each, the order rotating every round; the median of the rounds counts. A run
 * during which other processes took more than NOISE of a core is taken again, at most `retries`
 * times, and the quietest attempt kept. Throws if any response is not a 200 with the expected
 * body, or on any error or time-out.
 */
export async function httpThroughput({work, durationSeconds = 5, warmupSeconds = 1, rounds = 3, retries = 2, connections = 10, log = () => {}}) {
  const seconds = 6 * (warmupSeconds + rounds * durationSeconds * (1 + retries))
  // Every run is bounded by autocannon's duration; the child's own limit is a backstop.
  const servers = await startServers(join(work, 'http'), Math.ceil(seconds * 1.5 + 120))
  try {
    const scenarios = await defineScenarios(servers.info)
    const options = {connections, pipelining: 1}
    for (const scenario of scenarios) await measure(servers, scenario, {...options, duration: warmupSeconds})

    const samples = Object.fromEntries(scenarios.map((scenario) => [scenario.key, []]))
    for (let round = 0; round < rounds; round++) {
      const order = scenarios.map((_, index) => scenarios[(index + round) % scenarios.length])
      for (const scenario of order) {
        let kept
        for (let attempt = 0; attempt <= retries; attempt++) {
          const sample = await measure(servers, scenario, {...options, duration: durationSeconds})
          const noisy = sample.cpu.others > NOISE
          log(`${scenario.label}: ${formatRate(sample.rate)} (CPU: servers ${pct(sample.cpu.servers)}, autocannon ${pct(sample.cpu.loader)}` +
            `${sample.cpu.others === undefined ? '' : `, other processes ${pct(sample.cpu.others)}`})` +
            `${noisy && attempt < retries ? ': other processes were busy, once more' : ''}`)
          if (kept === undefined || sample.cpu.others < kept.cpu.others) kept = sample
          if (!noisy) break
        }

        samples[scenario.key].push(kept)
      }
    }

    const result = {settings: {...options, durationSeconds, warmupSeconds, rounds, retries}}
    result.othersMax = Math.max(...Object.values(samples).flat().map((sample) => sample.cpu.others ?? 0))
    for (const {key, label} of scenarios) {
      const taken = samples[key]
      result[key] = {
        label,
        rate: median(taken.map((sample) => sample.rate)),
        rates: taken.map((sample) => sample.rate),
        cpu: Object.fromEntries(['servers', 'loader', 'others'].map((side) => [side, median(taken.map((sample) => sample.cpu[side] ?? Number.NaN))])),
      }
    }

    for (const key of ['jwks', 'introspection', 'feed']) result[key].ratio = result[key].rate / result.hello.rate
    result.introspect.ratio = result.introspect.rate / result.form.rate
    return result
  } finally {
    await servers.stop()
  }
}

/** The scenarios, each checked by hand first: a 200 with the body the load run will expect. */
async function defineScenarios({urls, tokens}) {
  const bearer = (token) => ({authorization: `Bearer ${token}`})
  const scenarios = [
    {key: 'hello', label: 'GET /hello, bare Fastify', url: `${urls.hello}/hello`, expectBody: HELLO_BODY},
    {
      key: 'form',
      label: 'POST /form, bare Fastify',
      url: `${urls.hello}/form`,
      method: 'POST',
      headers: {...bearer(tokens.api), 'content-type': 'application/x-www-form-urlencoded'},
      body: new URLSearchParams({token: tokens.client}).toString(),
      expectBody: JSON.stringify({active: true}),
    },
    {
      key: 'introspect',
      label: 'POST /v1/introspect',
      url: `${urls.cape}/v1/introspect`,
      method: 'POST',
      headers: {...bearer(tokens.api), 'content-type': 'application/x-www-form-urlencoded'},
      body: new URLSearchParams({token: tokens.client}).toString(),
    },
    {key: 'jwks', label: 'capeFastify GET /hello, JWKS', url: `${urls.jwks}/hello`, headers: bearer(tokens.client), expectBody: HELLO_BODY},
    {
      key: 'introspection',
      label: 'capeFastify GET /hello, introspection',
      url: `${urls.introspection}/hello`,
      headers: bearer(tokens.client),
      expectBody: HELLO_BODY,
    },
    {key: 'feed', label: 'capeFastify GET /hello, feed', url: `${urls.feed}/hello`, headers: bearer(tokens.client), expectBody: HELLO_BODY},
  ]

  for (const scenario of scenarios) {
    // A few requests first: the introspected token is then one cape has seen (its signature cached).
    for (let attempt = 0; attempt < 5; attempt++) {
      const response = await fetch(scenario.url, {method: scenario.method ?? 'GET', headers: scenario.headers, body: scenario.body})
      const text = await response.text()
      if (response.status !== 200) throw new Error(`http bench: ${scenario.label} answered ${response.status}: ${text}`)
      if (scenario.key === 'introspect') {
        // Every answer to an introspection is a 200, {"active": false} included: check the body.
        if (JSON.parse(text).active !== true) throw new Error(`http bench: the introspected token is not active: ${text}`)
        scenario.expectBody ??= text
      }

      if (text !== scenario.expectBody) throw new Error(`http bench: ${scenario.label} answered ${text}, not ${scenario.expectBody}`)
    }
  }

  return scenarios
}

/** One autocannon run: its rate, and the CPU each side used, as a share of one core. */
async function measure(servers, scenario, options) {
  const {url, method = 'GET', headers = {}, body, expectBody} = scenario
  const before = {servers: await servers.cpu(), loader: process.cpuUsage(), machine: machineTicks(), at: performance.now()}
  // autocannon takes an option given as undefined for a value: leave out the ones not set.
  const instance = autocannon({url, method, headers, ...(body && {body}), expectBody, timeout: 10, ...options})
  let mismatch
  instance.on('reqMismatch', (text) => {
    mismatch ??= text
  })
  const result = await instance
  const wall = (performance.now() - before.at) * 1000
  const cpu = {
    servers: used(before.servers, await servers.cpu()) / wall,
    loader: used(before.loader, process.cpuUsage()) / wall,
  }
  const machine = machineTicks()
  if (before.machine && machine) {
    const busyCores = ((machine.busy - before.machine.busy) / (machine.total - before.machine.total)) * availableParallelism()
    cpu.others = Math.max(0, busyCores - cpu.servers - cpu.loader)
  }

  const problems = []
  const codes = Object.keys(result.statusCodeStats)
  if (result.non2xx > 0 || codes.some((code) => code !== '200')) {
    problems.push(`${result.non2xx} non-2xx answers, status codes ${JSON.stringify(result.statusCodeStats)}`)
  }

  if (result.errors > 0) problems.push(`${result.errors} errors (${result.timeouts} time-outs)`)
  if (result.mismatches > 0) problems.push(`${result.mismatches} answers with another body, e.g. ${mismatch}`)
  if (result.resets > 0) problems.push(`${result.resets} connection resets`)
  if (result.requests.total === 0) problems.push('no answers at all')
  if (problems.length > 0) throw new Error(`http bench: ${scenario.label} (${url}): ${problems.join('; ')}`)
  return {rate: result.requests.total / result.duration, cpu}
}

const used = (before, after) => after.user - before.user + (after.system - before.system)

/** Busy and total CPU ticks of the whole machine (Linux), or undefined elsewhere. */
function machineTicks() {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/)
    const ticks = fields.slice(0, 8).map(Number)
    const total = ticks.reduce((sum, value) => sum + value, 0)
    return {busy: total - ticks[3] - ticks[4], total}
  } catch {
    return undefined
  }
}

const pct = (share) => `${(share * 100).toFixed(0)}%`

/** Starts bench/http-servers.js; resolves once it has printed its URLs, with a stop() that always ends it. */
async function startServers(home, maxSeconds) {
  // An IPC channel: if this process dies, however it dies, the child sees it close and stops.
  const child = spawn(process.execPath, [SERVERS, home, String(maxSeconds)], {stdio: ['ignore', 'pipe', 'inherit', 'ipc']})
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({code, signal}))
    child.once('error', (error) => resolve({error}))
  })
  const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined

  async function stop() {
    if (running()) {
      child.kill('SIGTERM')
      const kill = setTimeout(() => running() && child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(kill)
    }
  }

  function cpu() {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('http bench: the servers did not report their CPU time')), 10_000)
      const onMessage = (message) => {
        if (message?.type !== 'cpu') return
        clearTimeout(timer)
        child.off('message', onMessage)
        resolve(message.usage)
      }

      child.on('message', onMessage)
      child.send({type: 'cpu'})
    })
  }

  try {
    const info = await new Promise((resolve, reject) => {
      let output = ''
      const timer = setTimeout(() => reject(new Error('http bench: the servers did not start within 30 s')), 30_000)
      child.stdout.setEncoding('utf8')
      child.stdout.on('data', (chunk) => {
        output += chunk
        const newline = output.indexOf('\n')
        if (newline === -1) return
        clearTimeout(timer)
        try {
          resolve(JSON.parse(output.slice(0, newline)))
        } catch {
          reject(new Error(`http bench: the servers printed ${output.slice(0, newline)}, not their URLs`))
        }
      })
      exited.then(({code, signal, error}) => {
        clearTimeout(timer)
        reject(new Error(`http bench: the servers stopped before they were ready (${error?.message ?? signal ?? `exit ${code}`})`))
      })
    })
    return {info, stop, cpu}
  } catch (error) {
    await stop()
    throw error
  }
}

/** Table rows for bench/run.js and the standalone run. */
export function httpRows(http) {
  const vsHello = (key) => `${formatRate(http[key].rate)} vs ${formatRate(http.hello.rate)}`
  const {connections, durationSeconds, rounds} = http.settings
  const noisy = http.othersMax > NOISE
    ? [['HTTP: other processes were busy', `up to ${pct(http.othersMax)} of a core in runs kept: HTTP figures doubtful`, '', '', '']]
    : []
  return [
    ['HTTP GET /hello, bare Fastify (baseline)', `${formatRate(http.hello.rate)} (${connections} conn., median of ${rounds} × ${durationSeconds} s)`, '1.00', '', ''],
    ['HTTP POST /form, bare Fastify (baseline)', formatRate(http.form.rate), '', '', ''],
    ['HTTP POST /v1/introspect vs bare form POST', `${formatRate(http.introspect.rate)} vs ${formatRate(http.form.rate)}`, http.introspect.ratio.toFixed(2), `≥ ${INTROSPECTION_GOAL.toFixed(2)}`, verdict(http.introspect.ratio, INTROSPECTION_GOAL)],
    ['HTTP capeFastify (JWKS) vs bare hello', vsHello('jwks'), http.jwks.ratio.toFixed(2), '', ''],
    ['HTTP capeFastify + introspection vs hello', vsHello('introspection'), http.introspection.ratio.toFixed(2), '', ''],
    ['HTTP capeFastify + feed vs hello', vsHello('feed'), http.feed.ratio.toFixed(2), `≥ ${FEED_GOAL.toFixed(2)}`, verdict(http.feed.ratio, FEED_GOAL)],
    ...noisy,
  ]
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.env.BENCH_QUICK === '1'
  const work = mkdtempSync(join(tmpdir(), 'cape-bench-http-'))
  try {
    const http = await httpThroughput({work, durationSeconds: quick ? 2 : 5, log: (line) => console.error(line)})
    const {connections, pipelining, durationSeconds, warmupSeconds, rounds} = http.settings
    console.log(`\ncape HTTP benchmark, node ${process.version}: autocannon, ${connections} connections, pipelining ${pipelining}, ` +
      `${warmupSeconds} s warm-up, median of ${rounds} × ${durationSeconds} s\n`)
    printTable(httpRows(http))
    console.log('\nper run (requests/s) and median CPU, as a share of one core: servers / autocannon / other processes')
    for (const key of ['hello', 'form', 'introspect', 'jwks', 'introspection', 'feed']) {
      const {label, rates, cpu} = http[key]
      const shares = [cpu.servers, cpu.loader, cpu.others].map((share) => (Number.isNaN(share) ? '?' : pct(share)))
      console.log(`  ${label.padEnd(38)} ${rates.map(formatRate).join('  ').padEnd(30)} ${shares.join(' / ')}`)
    }
  } finally {
    rmSync(work, {recursive: true, force: true})
  }
}
