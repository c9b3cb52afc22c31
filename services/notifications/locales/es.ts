import type { Catalogue } from '../templates.ts'

// Spanish: a template missing here is written in English.
export const es: Partial<Catalogue> = {
  overtaken: (p, f) => ({
    title: `Te han adelantado en ${p.competitionName}`,
    body: p.rank === null ? `${p.byName} te ha pasado. Tienes ${f.score(p.score)}.` : `${p.byName} te ha pasado. Ahora eres el n.º ${p.rank} con ${f.score(p.score)}.`
  }),
  started: (p) => ({ title: `${p.competitionName} ha empezado`, body: 'Cada paso cuenta desde ahora. ¡Suerte!' }),
  final: (p, f) => ({
    title: `Resultados finales: ${p.competitionName}`,
    body: p.rank === null ? 'Ya están los resultados.' : `Terminaste en el puesto ${p.rank} de ${p.participants} con ${f.score(p.score)}.`
  }),
  prize_paid: (p, f) => ({
    title: '¡Has ganado un premio!',
    body: `${f.money(p.amount, p.currency)} por quedar n.º ${p.rank} en ${p.competitionName} ya está en tu monedero.`
  }),
  deposit_succeeded: (p, f) => ({ title: 'Depósito recibido', body: `Se han añadido ${f.money(p.amount, p.currency)} a tu monedero.` })
}
