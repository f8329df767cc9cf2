/**
 * What the primary drives, whatever keeps its workers: the supervisor (threads or
 * processes), or a thread host (threads in one worker process). Both take `PoolOptions`.
 *
 * @module
 */
import type { MultiserveError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { PoolEvent } from "../observe/events.ts";
import type { Bus } from "../pubsub/bus.ts";

/** A set of workers kept running. */
export interface WorkerPool {
  /** Workers serving or starting, not counting those on their way out. */
  readonly count: number;
  /** Start every worker; resolve when all listen, or stop them all and reject on the first failure. */
  start(): Promise<void>;
  /** Ask every worker to stop (even one still starting), wait for them, kill those past the grace. */
  stop(): Promise<void>;
  /** End every worker at once. */
  kill(): void;
  /** Rolling reload; rejects, leaving the current workers serving, if a new one cannot start. */
  reload(): Promise<void>;
  /** Keep `count` workers; a function gets the current count when its turn comes. */
  scale(count: number | ((current: number) => number)): Promise<void>;
  /**
   * Replace worker `id` ("2"): its replacement starts, then it drains; rejects when no such
   * worker serves. Absent where workers cannot be replaced one by one (a thread host).
   */
  replaceWorker?(id: string): Promise<void>;
}

/** What every pool is told. */
export interface PoolOptions {
  /** Seconds a stopping worker may take to drain. */
  gracefulTimeout: number;
  /** Seconds of heartbeat silence after which a worker is killed; 0 = never. */
  timeout: number;
  /** Seconds a worker has from its start to listen; 0 = no bound. */
  bootTimeout: number;
  /** Give up: a worker died and its replacement could not start. */
  onFatal: (error: MultiserveError) => void;
  /** Where lifecycle lines go. */
  log: Logger;
  /** Told what happens to the workers, and what they report (the admin endpoint's registry). */
  observe?: (event: PoolEvent) => void;
  /** This isolate's publish/subscribe bus, which links to every worker's. */
  bus?: Bus;
}
