/**
 * Routing rules (the guide's IOperatorRoutingRule): given a session waiting in its line's queue,
 * which operators get it. Built-ins are registered by name; plugins add more (OMNILINE_PLUGINS
 * `routingRules`). Rules only choose; the router enforces capacity and atomicity.
 */
import type { QueueSettings } from './queue-settings.ts';

export interface Candidate {
  id: string;
  role: string;
  /** Open sessions the operator holds now. */
  open: number;
  capacity: number;
  lastAssignedAt: Date | null;
}

export interface RoutingSession {
  id: string;
  lineId: string;
  operatorGroupId: string | null;
  previousOperatorId: string | null;
  declinedBy: string[];
}

export interface RoutingContext {
  /** Online operators serving the line (or the session's group) who are under capacity, not declined. */
  candidates: Candidate[];
  /** The operator who got the line's previous session (round-robin position). */
  lastRoutedOperatorId: string | null;
  now: Date;
  /** Looks up users by login or role (custom rules: "everything to the supervisor"). */
  findUsers(filter: {
    role?: string;
    login?: string;
  }): Promise<{ id: string; login: string; status: string }[]>;
}

export interface RoutingRule {
  readonly name: string;
  /**
   * `assign`: the first operator returned gets the session (reserved until accepted when the queue
   * has an accept timeout). `offer`: every operator returned is offered it; the first to accept wins.
   */
  readonly mode: 'assign' | 'offer';
  pickOperators(
    session: RoutingSession,
    queue: QueueSettings,
    ctx: RoutingContext,
  ): Promise<string[]> | string[];
}

export class RuleRegistry {
  readonly #rules = new Map<string, RoutingRule>();

  constructor(rules: RoutingRule[]) {
    for (const r of rules) this.register(r);
  }

  register(rule: RoutingRule): void {
    if (this.#rules.has(rule.name))
      throw new Error(`a routing rule named "${rule.name}" is already registered`);
    this.#rules.set(rule.name, rule);
  }

  get(name: string): RoutingRule | undefined {
    return this.#rules.get(name);
  }

  names(): string[] {
    return [...this.#rules.keys()];
  }
}
