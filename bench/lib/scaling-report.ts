import { existsSync, readFileSync, writeFileSync } from 'node:fs'

// bench/SCALING.md: for each curve how it was measured, its table, its plots, the targets and
// whether each is met, and where one is not, the CPU profile that shows why. Curves not
// measured in the run are listed as such, with the reason.
// met: null when the run did not reach the size the target speaks of.
export interface CurveTarget { text: string, met: boolean | null, detail: string }

export interface Curve {
  key: string
  title: string
  method: string[]
  columns: string[]
  rows: string[][]
  // Paths relative to the report's folder.
  plots: string[]
  targets: CurveTarget[]
  notes: string[]
  profile?: string
  // When and how this curve was measured (set by the run that measured it).
  measured?: string
}

export interface NotMeasured { key: string, title: string, reason: string }

const cell = (s: string) => s.replace(/\|/g, '\\|')
const verdict = (met: boolean | null) => met === null ? 'not measured at that size' : met ? '**met**' : '**not met**'

function renderCurve (c: Curve): string[] {
  const lines = [`## ${c.title}`, '', ...(c.measured !== undefined ? [c.measured, ''] : []), ...c.method, '']
  lines.push(`| ${c.columns.map(cell).join(' | ')} |`, `|${c.columns.map(() => '---').join('|')}|`)
  for (const r of c.rows) lines.push(`| ${r.map(cell).join(' | ')} |`)
  lines.push('')
  for (const p of c.plots) lines.push(`![${c.title}](${p})`, '')
  if (c.targets.length > 0) {
    lines.push('| target | result | met |', '|---|---|---|')
    for (const t of c.targets) lines.push(`| ${cell(t.text)} | ${cell(t.detail)} | ${verdict(t.met)} |`)
    lines.push('')
  }
  if (c.notes.length > 0) lines.push(...c.notes, '')
  if (c.profile !== undefined) lines.push('CPU profile of the service over this curve (self time, top frames):', '', c.profile, '')
  return lines
}

// notesFile: what the curves show and why, written by hand, appended after the curves.
export function renderScaling (context: string[], curves: Curve[], missing: NotMeasured[], notesFile?: string): string {
  const lines = ['# Scaling curves', '', ...context, '']
  const targets = curves.flatMap((c) => c.targets.map((t) => `| ${cell(c.title)} | ${cell(t.text)} | ${verdict(t.met)} |`))
  if (targets.length > 0) lines.push('| curve | target | met |', '|---|---|---|', ...targets, '')
  if (missing.length > 0) {
    lines.push('Not measured in this run:', '', ...missing.map((m) => `- ${m.title}: ${m.reason}`), '')
  }
  for (const c of curves) lines.push(...renderCurve(c))
  if (notesFile !== undefined && existsSync(notesFile)) lines.push(readFileSync(notesFile, 'utf8').trim())
  return lines.join('\n').trimEnd() + '\n'
}

export function writeScaling (path: string, context: string[], curves: Curve[], missing: NotMeasured[], notesFile?: string): void {
  writeFileSync(path, renderScaling(context, curves, missing, notesFile))
}
