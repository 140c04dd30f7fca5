/**
 * The catalogue's global invariants (INV-LOSS, INV-DUP, INV-ORDER, INV-BUDGET, INV-SECRET,
 * INV-DLQ), checked against the simulator (the oracle) and the ports the sync core wrote
 * to. Port-based so every suite can reuse it: the discrete-event simulation and the fault
 * suites pass the memory adapters, the integration suite the AWS adapters on moto.
 *
 * `checkInvariants` collects every violation and throws one Error listing them all (and
 * returns a summary when everything holds), so a failing run shows the whole picture.
 */
import { sha256Hex } from '../../functions/core/hash.ts';
import { rawKey } from '../../functions/core/keys.ts';
import type {
  AccountStore,
  FetchMessage,
  Ledger,
  LedgerItem,
  ObjectStore,
} from '../../functions/core/ports.ts';
import type { Simulator } from '../../simulator/server.ts';

export interface DeadLetter {
  body: FetchMessage;
  reason?: string | undefined;
}

export interface InvariantInput {
  sim: Simulator;
  ledger: Ledger;
  store: ObjectStore;
  /** Messages in the dead-letter queue (empty or omitted = none). */
  dlq?: readonly DeadLetter[] | undefined;
  /** Every log line captured during the run. */
  logs: readonly string[];
  /** Linked users whose data must be complete (revoked users are not linked). */
  userIds: readonly string[];
  /** The API's per-user limit per window (100). */
  limit: number;
  /** The scenario injects 429s itself (storms, scripted faults): do not require zero. */
  allow429?: boolean | undefined;
  /** Activity ids that are genuinely poison: exempt from INV-LOSS, but their ledger item must
   *  carry the reason (lastError) unless a later delivery stored them. */
  poisonIds?: ReadonlySet<string> | undefined;
  /** Upper bound on distinct document revisions per activity (default: 1 + nothing known). */
  revisions?: ((userId: string, id: string) => number) | undefined;
  /** Extra versions allowed per activity: the catalogue allows at most one per overlapping
   *  redelivery (a stale write that loses a race is healed by a refetch, leaving one extra). */
  extraVersions?: number | undefined;
  /** Versions of a key (oldest first, as sha256); read from MemoryObjectStore when omitted. */
  versionsOf?: ((key: string) => Promise<string[]>) | undefined;
  /** Extra secret values that must appear nowhere (OAuth codes, states, cookies). */
  secrets?: readonly string[] | undefined;
  /** Account records (checked for secrets). */
  accounts?: AccountStore | undefined;
  /** Skip the (slow for 5,000 objects) scan of stored bytes for secrets. */
  scanObjectsForSecrets?: boolean | undefined;
}

export interface InvariantSummary {
  users: number;
  activities: number;
  synced: number;
  live: number;
  maxCallsInWindow: number;
  http429: number;
  dlq: number;
}

export class InvariantViolation extends Error {
  readonly violations: string[];
  constructor(violations: string[]) {
    const shown = violations.slice(0, 40);
    super(
      `${violations.length} invariant violation(s):\n  ${shown.join('\n  ')}${
        violations.length > shown.length ? `\n  … and ${violations.length - shown.length} more` : ''
      }`,
    );
    this.name = 'InvariantViolation';
    this.violations = violations;
  }
}

function memoryVersions(store: ObjectStore): ((key: string) => Promise<string[]>) | undefined {
  const v = (store as { versions?: unknown }).versions;
  if (!(v instanceof Map)) return undefined;
  const map = v as Map<string, { sha256: string }[]>;
  return async (key) => (map.get(key) ?? []).map((x) => x.sha256);
}

function isLiveDoc(doc: unknown): boolean {
  const live = (doc as { is_live?: unknown } | undefined)?.is_live;
  return live === true || live === 'true';
}

export async function checkInvariants(o: InvariantInput): Promise<InvariantSummary> {
  const bad: string[] = [];
  const versionsOf = o.versionsOf ?? memoryVersions(o.store);
  const summary: InvariantSummary = {
    users: o.userIds.length,
    activities: 0,
    synced: 0,
    live: 0,
    maxCallsInWindow: 0,
    http429: o.sim.http429(),
    dlq: o.dlq?.length ?? 0,
  };
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const storedTexts: string[] = [];

  for (const userId of o.userIds) {
    const ids = o.sim.activityIds(userId, 'fitnessActivities');
    summary.activities += ids.length;
    const items = await o.ledger.list(userId);
    const byId = new Map<string, LedgerItem[]>();
    for (const it of items) {
      if (it.feed !== 'fitnessActivities') continue;
      byId.set(it.id, [...(byId.get(it.id) ?? []), it]);
    }

    // INV-DUP (ledger): one item per activity.
    for (const [id, list] of byId)
      if (list.length !== 1) bad.push(`INV-DUP ${userId}/${id}: ${list.length} ledger items`);

    // INV-DUP (objects): one raw key per activity, and only the activity layout under raw/.
    const keys: string[] = [];
    for await (const k of o.store.list(`raw/${userId}/fitnessActivities/`)) keys.push(k);
    const perId = new Map<string, number>();
    for (const k of keys) {
      const m = /^raw\/\d+\/fitnessActivities\/(\d+)(\.comments)?\.json$/.exec(k);
      if (!m) {
        bad.push(`INV-DUP ${userId}: unexpected key ${k}`);
        continue;
      }
      if (!m[2]) perId.set(m[1]!, (perId.get(m[1]!) ?? 0) + 1);
    }
    for (const [id, n] of perId) if (n !== 1) bad.push(`INV-DUP ${userId}/${id}: ${n} raw keys`);

    // INV-LOSS: every existing activity is stored, parses, and is SYNCED (live ones stay PENDING).
    for (const id of ids) {
      const key = rawKey(userId, { feed: 'fitnessActivities', id });
      const item = byId.get(id)?.[0];
      if (o.poisonIds?.has(id)) {
        if (!item || (item.status !== 'SYNCED' && !item.lastError))
          bad.push(`INV-DLQ ${userId}/${id}: poison item is ${item?.status} without a reason`);
        continue;
      }
      const bytes = await o.store.get(key);
      if (!bytes) {
        bad.push(`INV-LOSS ${userId}/${id}: no stored object (ledger: ${item?.status ?? 'none'})`);
        continue;
      }
      let text: string;
      let storedLive = false;
      try {
        text = decoder.decode(bytes);
        const json = JSON.parse(text) as { uri?: unknown; userID?: unknown };
        storedLive = isLiveDoc(json);
        if (json.uri !== `/fitnessActivities/${id}` || String(json.userID) !== userId)
          bad.push(`INV-LOSS ${userId}/${id}: stored document is for ${String(json.uri)}`);
      } catch (e) {
        bad.push(`INV-LOSS ${userId}/${id}: stored object does not parse (${String(e)})`);
        continue;
      }
      if (o.scanObjectsForSecrets !== false) storedTexts.push(text);
      const live = isLiveDoc(o.sim.document(userId, 'fitnessActivities', id));
      if (live) summary.live++;
      if (item?.status === 'SYNCED') summary.synced++;
      // A recording that ended after its last fetch stays PENDING until its re-fetch is due.
      else if (!((live || storedLive) && item?.status === 'PENDING'))
        bad.push(`INV-LOSS ${userId}/${id}: ledger status ${item?.status ?? 'missing'}`);

      // INV-DUP (versions): never the same revision twice, never more versions than revisions.
      if (versionsOf) {
        const vs = await versionsOf(key);
        const extra = o.extraVersions ?? 0;
        if (vs.length - new Set(vs).size > extra)
          bad.push(`INV-DUP ${userId}/${id}: the same bytes stored as two versions`);
        const max = o.revisions !== undefined ? o.revisions(userId, id) + extra : undefined;
        if (max !== undefined && vs.length > max)
          bad.push(`INV-DUP ${userId}/${id}: ${vs.length} versions for ≤ ${max} revisions`);
      }
    }

    // INV-ORDER: SYNCED ⇒ the object exists and its bytes are the ones the ledger recorded.
    for (const it of items) {
      if (it.status !== 'SYNCED') continue;
      const key = it.key ?? rawKey(userId, { feed: it.feed, id: it.id });
      if (key !== rawKey(userId, { feed: it.feed, id: it.id }))
        bad.push(`INV-ORDER ${userId}/${it.id}: ledger key ${key} is not the layout key`);
      const hash = await o.store.hash(key);
      if (!hash) bad.push(`INV-ORDER ${userId}/${it.id}: SYNCED but no object`);
      else if (hash !== it.contentHash)
        bad.push(`INV-ORDER ${userId}/${it.id}: object hash differs from the ledger contentHash`);
      else {
        const bytes = await o.store.get(key);
        if (bytes && sha256Hex(bytes) !== it.contentHash)
          bad.push(`INV-ORDER ${userId}/${it.id}: stored bytes do not hash to contentHash`);
      }
    }

    // INV-BUDGET: the API's own sliding window never exceeded.
    const max = o.sim.maxCallsInWindow(userId);
    summary.maxCallsInWindow = Math.max(summary.maxCallsInWindow, max);
    if (max > o.limit) bad.push(`INV-BUDGET ${userId}: ${max} calls in one window > ${o.limit}`);
  }
  if (!o.allow429 && summary.http429 !== 0)
    bad.push(`INV-BUDGET: ${summary.http429} HTTP 429 answers in a run without injected 429s`);

  // INV-SECRET: no token, client secret, code or state in logs, ledger, accounts or objects.
  const secrets = [
    ...o.sim.users.map((u) => u.accessToken),
    o.sim.clientSecret,
    ...(o.secrets ?? []),
  ].filter((s) => s.length >= 8);
  const haystacks: { where: string; text: string }[] = o.logs.map((l, i) => ({
    where: `log line ${i}`,
    text: l,
  }));
  for (const userId of o.userIds)
    haystacks.push({
      where: `ledger of ${userId}`,
      text: JSON.stringify(await o.ledger.list(userId)),
    });
  if (o.accounts)
    haystacks.push({ where: 'accounts', text: JSON.stringify(await o.accounts.list()) });
  storedTexts.forEach((text, i) => {
    haystacks.push({ where: `stored object ${i}`, text });
  });
  for (const h of haystacks) {
    for (const s of secrets)
      if (h.text.includes(s)) bad.push(`INV-SECRET: a secret value appears in ${h.where}`);
    if (/Bearer\s+[A-Za-z0-9]/.test(h.text))
      bad.push(`INV-SECRET: a bearer credential appears in ${h.where}`);
  }

  // INV-DLQ: only genuinely poison messages, each with a reason.
  for (const d of o.dlq ?? []) {
    if (!d.reason) bad.push(`INV-DLQ ${d.body.userId}/${d.body.id}: dead letter without a reason`);
    if (!o.poisonIds?.has(d.body.id))
      bad.push(`INV-DLQ ${d.body.userId}/${d.body.id}: healthy message in the DLQ (${d.reason})`);
  }

  if (bad.length > 0) throw new InvariantViolation(bad);
  return summary;
}
