// Compile-time checks of the lifecycle types (tsc --noEmit; never executed): a partner's store written
// against the CredentialStore interface, the stores, the TokenManager and its events.
import {
  checkStore, CredentialsLostError, MemoryStore, OnboardingClient, PostgresStore, SecretToken, SqliteStore,
  StorageError, TokenManager,
  type CredentialStatus, type CredentialStore, type EventRow, type StoreRow, type TokenEvent
} from 'confirma-sdk'

class MapStore implements CredentialStore {
  rows = new Map<string, StoreRow>()
  log: EventRow[] = []
  private append (events: EventRow[]): void {
    for (const e of events) this.log.push({ ...e, seq: this.log.length + 1 })
  }

  async load (environment: string, clientId: string): Promise<StoreRow | null> {
    return this.rows.get(`${environment}\n${clientId}`) ?? null
  }

  async insert (row: StoreRow, events: EventRow[]): Promise<boolean> {
    const k = `${row.environment}\n${row.clientId}`
    if (this.rows.has(k)) return false
    this.rows.set(k, row)
    this.append(events)
    return true
  }

  async compareAndSwap (expectedRevision: number, row: StoreRow, events: EventRow[]): Promise<boolean> {
    const k = `${row.environment}\n${row.clientId}`
    if (this.rows.get(k)?.revision !== expectedRevision) return false
    this.rows.set(k, row)
    this.append(events)
    return true
  }

  async delete (environment: string, clientId: string, expectedRevision: number, events: EventRow[]): Promise<boolean> {
    const k = `${environment}\n${clientId}`
    if (this.rows.get(k)?.revision !== expectedRevision) return false
    this.rows.delete(k)
    this.append(events)
    return true
  }

  async list (environment: string | null): Promise<StoreRow[]> {
    return [...this.rows.values()].filter((r) => environment === null || r.environment === environment)
  }

  async events (environment: string | null, clientId: string | null, afterSeq: number, limit: number): Promise<EventRow[]> {
    return this.log
      .filter((e) => e.seq > afterSeq && (environment === null || (e.environment === environment && e.clientId === clientId)))
      .slice(0, limit)
  }
}

export async function lifecycleUsage (): Promise<void> {
  const client = new OnboardingClient({ environment: 'staging' })
  const sqlite: SqliteStore = SqliteStore.open('/tmp/x.db', { key: 'base64', previousKeys: [] })
  const pg: PostgresStore = await PostgresStore.connect('postgres://u@h/db', { plaintext: false })
  const mem = new MemoryStore()
  const partner = new MapStore()
  const report = await checkStore(partner)
  const passed: readonly string[] = report.passed
  const m = new TokenManager(client, partner, { renewEveryMs: 3_600_000, jitter: 0.1, owner: 'web-1', key: 'k' })
  m.on('rotated', (e: TokenEvent) => { const v: number = e.tokenVersion; const at: Date = e.at; void v; void at })
  m.on('event', (e) => { const kind: string = e.kind; void kind })
  const token: SecretToken = await m.token('cl_1', { signal: AbortSignal.timeout(1000) })
  const s: CredentialStatus = await m.status('cl_1')
  const health: 'healthy' | 'degraded' | 'lost' = s.health
  const all: CredentialStatus[] = await m.statuses()
  await m.importCredentials('cl_2', token, { customerCode: 'C', paymentReferencePrefix: 'P' })
  await m.renewNow('cl_1')
  await m.reconcile()
  await client.createClient(token, {} as never, { store: sqlite })
  try { await m.token('cl_3') } catch (e) { if (e instanceof CredentialsLostError || e instanceof StorageError) void e.retryable }
  await m.close()
  void [pg, mem, passed, health, all]
}
