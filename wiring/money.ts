import fp from 'fastify-plugin'
import { createLedgerService } from '../services/money/ledger.ts'
import { createActivityService } from '../services/users/activity.ts'
import { createWalletService } from '../services/money/wallet.ts'
import { createTransactor } from '../services/shared/transactions.ts'

declare module 'fastify' {
  interface FastifyInstance {
    // Double-entry wallet ledger; every call takes the caller's transaction client.
    ledger: ReturnType<typeof createLedgerService>
    // A user's feed; other domains record into it inside their own transactions.
    activity: ReturnType<typeof createActivityService>
    wallet: ReturnType<typeof createWalletService>
  }
}

export default fp(async function ledgerService (fastify) {
  const ledger = createLedgerService()
  const activity = createActivityService()
  const transact = createTransactor(fastify.pg.pool)
  fastify.decorate('ledger', ledger)
  fastify.decorate('activity', activity)
  fastify.decorate('wallet', createWalletService({ pool: fastify.pg.pool, transact, ledger, activity }))
}, { name: 'ledger-service', dependencies: ['postgres'] })
