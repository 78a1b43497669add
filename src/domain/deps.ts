/** What services are built from. Passed explicitly; no globals, no service locator. */
import type { Db } from '../db/client.ts';
import type { UnitOfWork } from '../db/unit-of-work.ts';
import type { SecretBox } from '../lib/secret-box.ts';
import type { EventBus } from './events/domain-events.ts';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface Deps {
  db: Db;
  uow: UnitOfWork;
  bus: EventBus;
  secrets: SecretBox;
  clock: Clock;
}
