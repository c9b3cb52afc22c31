import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { projectRoot } from '../../lib/project-root.ts'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface CpuProfile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

function files (dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : name.endsWith('.cpuprofile') ? [path] : []
  })
}

function where (url: string, line: number): string {
  if (url === '') return ''
  const path = url.startsWith('file://') ? relative(projectRoot, new URL(url).pathname) : url
  return `${path.replace(/^node_modules\//, '')}:${line + 1}`
}

// Self time by function for each V8 CPU profile (node --cpu-prof) under `dir`, top first.
export function topFrames (path: string, count = 20): { totalMs: number, frames: Array<{ fn: string, at: string, ms: number, percent: number }> } {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, { fn: string, at: string, us: number }>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!
    const us = profile.timeDeltas[i] ?? 0
    total += us
    const fn = node.callFrame.functionName || '(anonymous)'
    const at = where(node.callFrame.url, node.callFrame.lineNumber)
    const key = `${fn}@${at}`
    const entry = self.get(key) ?? { fn, at, us: 0 }
    entry.us += us
    self.set(key, entry)
  })
  const frames = [...self.values()].sort((a, b) => b.us - a.us).slice(0, count)
    .map((f) => ({ fn: f.fn, at: f.at, ms: Math.round(f.us / 1000), percent: Math.round(1000 * f.us / Math.max(1, total)) / 10 }))
  return { totalMs: Math.round(total / 1000), frames }
}

export function summariseProfiles (dir: string, count = 20): string {
  const out: string[] = []
  for (const path of files(dir)) {
    const { totalMs, frames } = topFrames(path, count)
    out.push(`${relative(dir, path)} (${(totalMs / 1000).toFixed(1)} s sampled)`, '', '| self % | self ms | function | where |', '|---|---|---|---|')
    for (const f of frames) out.push(`| ${f.percent} | ${f.ms} | ${f.fn} | ${f.at} |`)
    out.push('')
  }
  return out.join('\n')
}

// node bench/lib/cpu-profile.ts <dir-or-file> [count]: print the top frames.
if (import.meta.url === `file://${process.argv[1]}`) {
  const target = process.argv[2] ?? '.'
  const count = Number(process.argv[3] ?? 25)
  console.log(statSync(target).isDirectory() ? summariseProfiles(target, count) : summariseProfiles(join(target, '..'), count))
}
