import { existsSync, readFileSync, writeFileSync } from 'node:fs'

export interface Row {
  scenario: string
  result: string
  p50: string
  p99: string
  errors: string
  rss: string
  baseline: string
  ratio: string
  target: string
  met: boolean | null
}

export interface Report {
  title: string
  context: string[]
  rows: Row[]
  sections: Array<{ heading: string, body: string }>
  notesFile: string
}

export const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`
export const ms = (x: number) => `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms`
export const int = (x: number) => Math.round(x).toLocaleString('en-US')
export const ratio = (x: number) => `${x.toFixed(2)} x`

// Readings taken side by side in rounds: after / before of their medians, and of each round.
export function ratioOfMedians (before: number[], after: number[]): { ratio: number, perRound: number[] } {
  return { ratio: median(after) / Math.max(1e-9, median(before)), perRound: after.map((a, i) => a / Math.max(1e-9, before[i]!)) }
}

// The middle value; for an even count, the mean of the two middle ones.
export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  if (s.length === 0) return 0
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

function cell (s: string): string {
  return s.replace(/\|/g, '\\|')
}

export function renderReport (report: Report): string {
  const lines = [`# ${report.title}`, '', ...report.context, '']
  lines.push('| scenario | result | p50 | p99 | errors | server RSS | baseline (same run) | ratio | target | met |')
  lines.push('|---|---|---|---|---|---|---|---|---|---|')
  for (const r of report.rows) {
    const met = r.met === null ? 'n/a' : r.met ? '**met**' : '**not met**'
    lines.push(`| ${[r.scenario, r.result, r.p50, r.p99, r.errors, r.rss, r.baseline, r.ratio, r.target].map(cell).join(' | ')} | ${met} |`)
  }
  for (const s of report.sections) lines.push('', `## ${s.heading}`, '', s.body)
  if (existsSync(report.notesFile)) lines.push('', readFileSync(report.notesFile, 'utf8').trim())
  return lines.join('\n') + '\n'
}

export function writeReport (path: string, report: Report): void {
  writeFileSync(path, renderReport(report))
}
