import type { Tx } from '../db/unit-of-work.ts';
import { routingRepository } from './routing.repository.ts';
import type { Candidate } from './rule.ts';

/**
 * The operators a routing pass may assign, locked, with their loads read once after the locks and
 * then kept current as the pass assigns: the same numbers a fresh count would give, without one.
 */
export class StaffLoads {
  readonly #byGroup = new Map<string | null, Promise<Candidate[]>>();
  readonly #loads = new Map<string, Candidate>();
  /** The queue's capacity for operators with none of their own; known once the line is read. */
  defaultCapacity = 0;

  constructor(
    private readonly tx: Tx,
    private readonly lineId: string,
  ) {}

  /** Reads the line's staff with their loads (nothing when the line has no Waiting session). */
  async read(): Promise<void> {
    await this.#read(null);
  }

  /** Operators under capacity who may take a session of the line, or of its group. */
  async candidates(groupId: string | null): Promise<Candidate[]> {
    const list = await this.#read(groupId);
    return list.filter((c) => c.open < this.#capacity(c)).map((c) => ({ ...c }));
  }

  /**
   * Staff with their loads, read once per pass and group; one operator's load is one object, shared
   * by every list they are in.
   */
  #read(groupId: string | null): Promise<Candidate[]> {
    let list = this.#byGroup.get(groupId);
    if (!list) {
      list = routingRepository.staff(this.tx.db, this.lineId, groupId).then((rows) =>
        rows.map((r) => {
          let known = this.#loads.get(r.id);
          if (!known) {
            known = {
              id: r.id,
              role: r.role,
              open: r.open,
              capacity: r.maxSessions ?? -1,
              lastAssignedAt: r.lastAssignedAt,
            };
            this.#loads.set(r.id, known);
          }
          return known;
        }),
      );
      this.#byGroup.set(groupId, list);
    }
    return list;
  }

  /** An operator's capacity: their own, else the queue's (known once the line row is in). */
  #capacity(load: Candidate): number {
    if (load.capacity < 0) load.capacity = this.defaultCapacity;
    return load.capacity;
  }

  /** The first of `picked` with room: a candidate's load is known; anyone else is read. */
  async firstWithRoom(picked: string[]): Promise<string | null> {
    for (const id of picked) {
      let load = this.#loads.get(id);
      if (!load) {
        // A rule may pick beyond the line's staff (a custom rule's supervisor).
        const row = await routingRepository.operatorLoad(this.tx.db, id, this.defaultCapacity);
        if (!row || row.blocked || row.status !== 'online') continue;
        load = { id, role: row.role, open: row.open, capacity: row.capacity, lastAssignedAt: null };
        this.#loads.set(id, load);
      }
      if (load.open < this.#capacity(load)) return id;
    }
    return null;
  }

  capacityOf(operatorId: string): number {
    const load = this.#loads.get(operatorId);
    return load ? this.#capacity(load) : this.defaultCapacity;
  }

  assigned(operatorId: string, at: Date): void {
    const load = this.#loads.get(operatorId);
    if (!load) return;
    load.open += 1;
    load.lastAssignedAt = at;
  }
}
