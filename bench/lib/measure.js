// Timing helpers shared by the benchmarks: rates, interleaved comparisons, medians, a table.

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/**
 * Operations per second of `run(iterations)`, a function that performs that many operations;
 * see `asyncLoop` and `syncLoop` (a synchronous body is never awaited, so it pays no microtask).
 */
/** The value below which a share `p` (0..1) of the values lie: nearest rank. */
export const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
}

export async function rate(run, iterations) {
  const started = performance.now()
  await run(iterations)
  return iterations / ((performance.now() - started) / 1000)
}

export const asyncLoop = (body) => async (iterations) => {
  for (let index = 0; index < iterations; index++) await body(index)
}

export const syncLoop = (body) => (iterations) => {
  for (let index = 0; index < iterations; index++) body(index)
}

/**
 * Runs A and B in alternating rounds after a warm-up so that both see the same machine, and
 * returns the median rate of each and their ratio (A ÷ B).
 */
export async function compareRates({a, b, iterations, rounds = 7}) {
  await rate(a, Math.ceil(iterations / 4))
  await rate(b, Math.ceil(iterations / 4))
  const rates = {a: [], b: []}
  for (let round = 0; round < rounds; round++) {
    rates.a.push(await rate(a, iterations))
    rates.b.push(await rate(b, iterations))
  }

  const rateA = median(rates.a)
  const rateB = median(rates.b)
  return {rateA, rateB, ratio: rateA / rateB}
}

export const formatRate = (perSecond) => `${Math.round(perSecond).toLocaleString('en-US')}/s`
export const formatBytes = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`

/** Prints rows of [label, figure, ratio, goal, verdict] as an aligned table. */
export function printTable(rows) {
  const head = ['benchmark', 'figures', 'ratio', 'goal', '']
  const all = [head, ...rows.map((row) => row.map((cell) => String(cell ?? '')))]
  const widths = head.map((_, column) => Math.max(...all.map((row) => row[column].length)))
  for (const [index, row] of all.entries()) {
    console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd())
    if (index === 0) console.log(widths.map((width) => '-'.repeat(width)).join('  '))
  }
}

export const verdict = (ratio, goal, higherIsBetter = true) =>
  (higherIsBetter ? ratio >= goal : ratio <= goal) ? 'PASS' : 'FAIL'
