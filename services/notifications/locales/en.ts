import type { Catalogue } from '../templates.ts'

// English: every template has its text here; other locales fall back to it.
export const en: Catalogue = {
  overtaken: (p, f) => ({
    title: `You were overtaken in ${p.competitionName}`,
    body: p.rank === null ? `${p.byName} passed you. You have ${f.score(p.score)}.` : `${p.byName} passed you. You are now #${p.rank} with ${f.score(p.score)}.`
  }),
  entered_top: (p, f) => ({
    title: `You are in the top ${p.top} of ${p.competitionName}`,
    body: `You climbed to #${p.rank} with ${f.score(p.score)}.`
  }),
  starting_soon: (p, f) => ({
    title: `${p.competitionName} starts soon`,
    body: `It starts ${f.time(p.at)}. Make sure your device is synced.`
  }),
  started: (p) => ({ title: `${p.competitionName} has started`, body: 'Every step counts from now. Good luck!' }),
  ending_soon: (p, f) => ({
    title: `${p.competitionName} ends soon`,
    body: `It ends ${f.time(p.at)}. You are #${p.rank} with ${f.score(p.score)}.`
  }),
  ended: (p, f) => ({
    title: `${p.competitionName} has ended`,
    body: `Late syncs count until ${f.time(p.graceEndsAt)}. Results follow.`
  }),
  sync_reminder: (p, f) => ({
    title: `Sync now for ${p.competitionName}`,
    body: `Your last activity has not reached us. Open the app to sync before ${f.time(p.graceEndsAt)}.`
  }),
  final: (p, f) => ({
    title: `Final results: ${p.competitionName}`,
    body: p.rank === null ? 'The results are in.' : `You finished #${p.rank} of ${p.participants} with ${f.score(p.score)}.`
  }),
  cancelled: (p) => ({
    title: `${p.competitionName} was cancelled`,
    body: 'Any entry fee you paid is back in your wallet.'
  }),
  prize_paid: (p, f) => ({
    title: 'You won a prize!',
    body: `${f.money(p.amount, p.currency)} for finishing #${p.rank} in ${p.competitionName} is in your wallet.`
  }),
  deposit_succeeded: (p, f) => ({ title: 'Deposit received', body: `${f.money(p.amount, p.currency)} was added to your wallet.` }),
  deposit_failed: (p, f) => ({ title: 'Deposit failed', body: `Your deposit of ${f.money(p.amount, p.currency)} did not go through (${p.reason}). Nothing was charged.` }),
  withdrawal_paid: (p, f) => ({ title: 'Withdrawal paid', body: `${f.money(p.amount, p.currency)} is on its way to your bank account.` }),
  withdrawal_failed: (p, f) => ({
    title: p.status === 'rejected' ? 'Withdrawal rejected' : 'Withdrawal failed',
    body: `Your withdrawal of ${f.money(p.amount, p.currency)} did not go through (${p.reason}). The money is back in your wallet.`
  }),
  flag_raised: (p) => ({
    title: 'Some of your activity is under review',
    body: `We are checking data that looks unusual (${p.reason}). Your scores in ${p.competitions} competition(s) are on hold until then.`
  }),
  flag_cleared: () => ({ title: 'Review finished', body: 'Your activity was checked and counts in full.' }),
  // A subscriber of a repeating competition who could not be joined to its new competition.
  auto_join_failed: (p, f) => ({
    title: `You were not entered in ${p.competitionName}`,
    body: p.reason === 'insufficient_funds'
      ? `Your wallet could not pay the ${f.money(p.entryFee, p.currency)} entry fee. Add money and join before it starts.`
      : p.reason === 'full'
        ? 'It was full before your turn. You stay subscribed to the next ones.'
        : `Joining automatically did not work (${p.reason}). Nothing was charged.`
  })
}
