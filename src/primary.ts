/**
 * The primary: the process that called `serve()` (or ran the CLI) and is no worker. It
 * serves alone (one isolate, through the request chain), or owns one pool of workers and
 * serves nothing itself (gunicorn's arbiter). It traps the signals from the moment it begins
 * to start: SIGTERM and SIGINT stop it gracefully (a second one at once), SIGHUP reloads the
 * pool, SIGTTIN and SIGTTOU scale it, SIGUSR2 upgrades it (a new primary from the same
 * command line takes over); what each does while the workers boot, reload, scale, upgrade
 * or stop, and with no workers, is `PoolControl`'s (pool/control.ts). It reports a start
 * that fails, the way the CLI does, unless the caller handles `ready`.
 *
 * An upgrade: this primary starts the new one (`Adapter.startPrimary`) with `UPGRADE_ENV`
 * naming it; the new one binds beside it (SO_REUSEPORT; no exclusive check of the port), or
 * takes the very sockets passed on (a node:cluster primary's, and inherited ones), and,
 * once every one of its workers listens, says `ready` over their channel. This one then makes
 * it systemd's main pid, lets go of the pid file and the admin port, says `handover`, and
 * drains and exits as on SIGTERM (without `STOPPING=1`); the new one writes the pid file,
 * binds the admin port and notifies `READY=1`. A new primary that exits first or is not
 * ready within `upgradeLimitMs` is given up: this one serves on, its pid file and systemd's
 * state untouched.
 *
 * @module
 */
import type { Adapter, ControlListener, Listener, PortReservation, PrimaryHandle } from "./adapter.ts";
import { type Address, addressesOf, urlOf } from "./addresses.ts";
import { servedApp } from "./app.ts";
import { defaultControlName } from "./control/protocol.ts";
import { serveControl } from "./control/server.ts";
import { settlesWithin } from "./deadline.ts";
import { BootError, EXIT, messageOf, type MultiserveError, OptionError, StoppedError } from "./errors.ts";
import { flushCompileCache } from "./compile_cache.ts";
import { cwd, exitProcess, pid, platform } from "./host.ts";
import { serveChain, type Serving, tlsOf } from "./http/chain.ts";
import { theBus } from "./pubsub/bus.ts";
import type { RedisLink } from "./pubsub/redis.ts";
import { CLOSE_CODES } from "./websocket/open_sockets.ts";
import { announce, configureLog, log, logAt, logger, onLogEntry } from "./log.ts";
import { type SystemdNotifier, systemdNotifier, takeNotifyEnvironment } from "./notify.ts";
import { serveAdmin } from "./observe/admin.ts";
import { Registry } from "./observe/registry.ts";
import { primaryPool } from "./pool/build.ts";
import { PoolControl } from "./pool/control.ts";
import type { WorkerPool } from "./pool/pool.ts";
import { loadAdapter } from "./runtime.ts";
import type { Config } from "./settings.ts";
import { PRIMARY_SIGNALS, SignalTraps } from "./signals.ts";
import { takeEarlySignals } from "./early_signals.ts";
import type { App, ListenInfo, Server, ServerStats } from "./types.ts";
import { UPGRADE_ENV, upgradeLimitMs, type UpgradeMarker, upgradeMarker } from "./upgrade.ts";
import { reloadOnChange } from "./watch.ts";

export class Primary implements Server {
  readonly finished: Promise<void>;
  readonly #ready: Promise<Server>;
  readonly #config: Config;
  #readyHandled = false;
  #url: string | undefined;
  #finish!: () => void;
  #traps: SignalTraps | undefined;
  /** Runs reloads and scaling one at a time, and decides what each signal does. */
  #control: PoolControl | undefined;
  /** Serving alone: the chain on its socket. */
  #serving: Serving | undefined;
  /**
   * Supervising: the workers, through `#control`. Set before they start, so that a stop
   * reaches those booting.
   */
  #pool: WorkerPool | undefined;
  #closing: Promise<void> | undefined;
  #unwatch: (() => void) | undefined;
  /** What the workers did and reported: `stats()` and the admin endpoint. */
  #registry: Registry | undefined;
  #admin: Listener | undefined;
  #stopObserving: (() => void) | undefined;
  #sampler: ReturnType<typeof setInterval> | undefined;
  /** The unix sockets this server claimed, to remove on exit. */
  #sockets: { adapter: Adapter; paths: string[] } | undefined;
  /** The pid file this server wrote (`pid`), to remove on exit. */
  #pidFile: { adapter: Adapter; path: string } | undefined;
  /** systemd's notifications, when systemd asked for them (NOTIFY_SOCKET). */
  #notifier: SystemdNotifier | undefined;
  /** Topics across hosts, through Redis (`pubsub`). */
  #redis: Promise<RedisLink | undefined> | undefined;
  /** Where the workers listen, ports chosen: what an upgrade's new primary binds beside. */
  #addresses: Address[] = [];
  /** The new primary of an upgrade under way, until it has taken over. */
  #successor: PrimaryHandle | undefined;

  constructor(app: App | URL, config: Config) {
    this.#config = config;
    configureLog(config);
    const [first] = addressesOf(config);
    if (first.port !== 0 || first.unix !== undefined || first.fd !== undefined) {
      this.#url = urlOf(first, config.cert !== undefined);
    }
    this.finished = new Promise((resolve) => (this.#finish = resolve));
    this.#ready = this.#start(app).then(() => this, (error) => {
      this.#releasePorts();
      this.#removePidFile();
      this.#notifier?.close();
      this.#traps?.clear();
      // Failed before its traps were set: the runtime's defaults again (src/early_signals.ts).
      takeEarlySignals();
      this.#finish();
      throw error;
    });
    // Nobody waits for `ready`: report a failed start as the CLI does, one line and its code.
    this.#ready.catch((error: Partial<MultiserveError>) => {
      if (this.#readyHandled || error instanceof StoppedError) return;
      logAt("critical", messageOf(error));
      exitProcess(error.exitCode ?? 1);
    });
  }

  /** Resolves when every worker listens. Reading it makes its rejection the caller's. */
  get ready(): Promise<Server> {
    this.#readyHandled = true;
    return this.#ready;
  }

  get url(): string {
    if (this.#url === undefined) {
      throw new Error("server.url is not known before server.ready resolves when port is 0");
    }
    return this.#url;
  }

  get workers(): number {
    return this.#pool?.count ?? 1;
  }

  stats(): ServerStats {
    if (this.#registry === undefined) throw new Error("stats() is known once the server has begun to start");
    return this.#registry.status();
  }

  close(): Promise<void> {
    // Not ready from this moment (`/readyz` says 503 at once), while requests drain.
    if (this.#registry) this.#registry.stopping = true;
    this.#closing ??= (async () => {
      // An upgrade under way is given up: the new primary stops with this one.
      this.#successor?.kill("SIGTERM");
      // A pool stops its workers even while they boot; serving alone, the app loads first.
      // Either way, what was queued is dropped and signals from now on are refused.
      const stopping = this.#control?.stop();
      if (this.#pool) await stopping;
      else await this.#ready.catch(() => {});
      await this.#serving?.stop(false);
      await (await this.#redis)?.close();
      this.#unwatch?.();
      // Only the socket this server made: a refused start must not remove another server's.
      for (const path of this.#sockets?.paths ?? []) this.#sockets!.adapter.releaseUnixSocket(path);
      clearInterval(this.#sampler);
      await this.#admin?.close(0, CLOSE_CODES.goingAway);
      this.#registry?.close();
      this.#stopObserving?.();
      await this.#notifier?.close();
      this.#controlSocket?.close();
      this.#removePidFile();
      this.#traps?.clear();
      this.#finish();
    })();
    return this.#closing;
  }

  async reload(): Promise<void> {
    await this.ready;
    await this.#supervised("reload()").reload();
  }

  /**
   * Upgrade this primary with no downtime, as SIGUSR2 does: a new primary from the same
   * command line (new code, a new runtime binary) starts its workers beside these, and once
   * they all listen it takes over (pid file, systemd's main pid) and this one drains and
   * exits. Resolves once the new primary has taken over; rejects saying why not (refused, or
   * the new primary failed), this one serving on. `by` names who asked, for the log.
   */
  async upgrade(by = "upgrade()"): Promise<void> {
    await this.ready;
    this.#supervised(by);
    await this.#control!.upgrade(by);
  }

  async scale(count: number): Promise<void> {
    if (!Number.isInteger(count) || count < 1) {
      throw new OptionError(`scale() needs a whole number of workers ≥ 1, got ${count}`);
    }
    await this.ready;
    await this.#supervised("scale()").scale(count);
  }

  #supervised(what: string): WorkerPool {
    if (this.#pool === undefined || this.#closing) {
      throw new Error(
        `${what} needs a running primary with workers ("threaded" or "processes"); this is ${
          this.#closing ? "a closed server" : "one isolate serving alone"
        }`,
      );
    }
    return this.#pool;
  }

  async #start(app: App | URL): Promise<void> {
    const adapter = await loadAdapter();
    const config = this.#config;
    const plan = { processes: config.processes, threads: config.threaded };
    const alone = plan.processes === 1 && plan.threads === 0;
    // Started by an upgrade: the pid file, systemd's notifications and the admin port stay
    // the old primary's until it hands them over, once every worker here listens; the
    // workers listen where the old one's do.
    const upgrading = alone ? undefined : upgradeMarker();
    let addresses = upgrading?.addresses ?? addressesOf(config);
    const unix = addresses.some((address) => address.unix !== undefined);
    const fd = addresses.some((address) => address.fd !== undefined);
    checkProxyProtocol(adapter, config, unix);
    const control = this.#trapSignals(adapter, alone);
    // `multiserve ctl upgrade` runs what SIGUSR2 does, in the same queue (one isolate: refused,
    // saying why); an upgrade's new primary takes the old one's control socket over.
    this.#upgrade = () => control.upgrade("ctl upgrade");
    this.#takeOver = upgrading !== undefined;
    if (config.pid !== undefined && upgrading === undefined) {
      adapter.writePidFile(config.pid, pid());
      this.#pidFile = { adapter, path: config.pid };
    }
    // Bad certificate files stop the start here, before any worker (exit 2, naming the file).
    tlsOf(adapter, config);
    const registry = this.#observe(adapter, plan);
    if (config.pubsub !== undefined) this.#redis = this.#linkRedis(config.pubsub, registry);
    const notifying = {
      pid: pid(),
      workers: () => registry.status().workers,
      log: logger,
    };
    // Taken now in either case, so that no worker inherits it.
    const notifyEnvironment = takeNotifyEnvironment();
    if (upgrading === undefined) {
      this.#notifier = await systemdNotifier(adapter, notifying, notifyEnvironment);
    }
    let admin: string | undefined;
    if (config.adminPort !== undefined && upgrading === undefined) {
      this.#admin = await serveAdmin(adapter, registry, config);
      admin = urlOf({ hostname: config.adminHost, port: this.#admin.port });
    }
    let watching: string[] = [];
    if (alone) {
      const served = await this.#withinBootTimeout(servedApp(app));
      if (this.#closing) throw new StoppedError();
      adapter.checkSpread(plan, { unix, fd });
      await this.#claim(adapter, addresses);
      theBus().topics.maxBuffer = config.maxWebSocketBuffer;
      const serving = this.#serving = await serveChain(adapter, served, {
        addresses,
        shared: false,
        config,
        id: undefined,
      });
      // Nobody here could replace this isolate: it ends, for its process manager to restart it.
      serving.whenEnded((reason) => {
        logAt("critical", `stopped serving: ${reason}; exiting (code ${EXIT.unserving})`);
        this.close().then(() => adapter.exit(EXIT.unserving));
      });
      addresses = addresses.map((address, i) => ({ ...address, port: serving.ports[i] }));
      registry.observe({ type: "state", key: "main", state: "listening" });
      await control.start();
      if (config.stats) {
        this.#sampler = setInterval(() => {
          const stats = serving.report(adapter.memoryUsage("process"));
          if (stats) registry.observe({ type: "stats", key: "main", stats });
        }, 1_000);
      }
    } else {
      // Every worker opens the access log itself: say now, before any starts, if it cannot be.
      if (config.accessLog !== undefined && config.accessLog !== "-") {
        adapter.openLog(config.accessLog).close();
      }
      adapter.checkSpread(plan, { unix, fd });
      // An upgrade has no unix socket (refused) to claim.
      if (!upgrading) await this.#claim(adapter, addresses);
      // Port 0 is one free port every worker shares: choose it here, once, and hold it until
      // they listen. An upgrade binds beside the old primary's workers, on their ports.
      for (const address of addresses) {
        if (address.unix === undefined && address.fd === undefined && !upgrading) {
          const reservation = await adapter.reservePort(address.hostname, address.port, plan);
          this.#reservations.push(reservation);
          address.port = reservation.port;
        }
      }
      this.#addresses = addresses;
      const { onListen: _, ...workerConfig } = config;
      const base = { addresses, config: workerConfig, module: app instanceof URL ? app.href : undefined };
      // close() came while the addresses were claimed (it waits for this start): no worker starts.
      if (this.#closing) throw new StoppedError();
      control.attach(primaryPool(adapter, app, base, plan, {
        ...config,
        bus: theBus(),
        onFatal: (error) => {
          logAt("critical", `stopping: ${error.message}`);
          this.close().then(() => adapter.exit(error.exitCode));
        },
        log: logger,
        observe: (event) => {
          registry.observe(event);
          this.#notifier?.observe(event);
        },
      }));
      const pool = this.#pool = control;
      // Signals meanwhile wait for it (a SIGHUP: one reload once every worker listens).
      await pool.start();
      this.#releasePorts();
      if (this.#closing) throw new StoppedError();
      if (upgrading) {
        await this.#takeOverFrom(adapter, upgrading);
        if (this.#closing) throw new StoppedError();
        this.#notifier = await systemdNotifier(adapter, notifying, notifyEnvironment);
        this.#notifier?.phase(control.phase);
        if (config.adminPort !== undefined) {
          this.#admin = await serveAdmin(adapter, registry, config);
          admin = urlOf({ hostname: config.adminHost, port: this.#admin.port });
        }
      }
      const hint = adapter.closeHint(plan);
      if (hint) logAt("warning", hint);
      if (config.watch) {
        watching = this.#watchRoots(adapter, app);
        this.#unwatch = reloadOnChange(adapter, pool, watching, config.watchExclude, log);
      }
    }
    await this.#openControl(adapter, addresses, registry);
    const urls = addresses.map((address) => urlOf(address, config.cert !== undefined));
    this.#url = registry.url = urls[0];
    registry.started = true;
    const limitsHint = adapter.limitsHint(config, unix);
    if (limitsHint) logAt("warning", limitsHint);
    const info: ListenInfo = {
      url: this.#url,
      urls,
      port: addresses[0].port,
      hostname: config.hostname,
      runtime: adapter.runtime,
      ...plan,
      ...(admin === undefined ? {} : { admin }),
    };
    if (config.onListen) config.onListen(info);
    else if (config.onListen === undefined) {
      announce(startupLine(info, adapter.version, watching, adapter.servingNote(config, unix)));
    }
    flushCompileCache(); // what this start compiled, for the next (Node)
  }

  /** Ports chosen for the workers, held until they listen (`Adapter.reservePort`). */
  #reservations: PortReservation[] = [];

  #releasePorts(): void {
    for (const reservation of this.#reservations.splice(0)) reservation.release();
  }

  /** The control socket (`controlSocket`, src/control/server.ts), once open. */
  #controlSocket: ControlListener | undefined;
  /** This start upgrades a running primary: it takes the control socket's path over. */
  #takeOver = false;
  /** What `multiserve ctl upgrade` runs; none: it is refused. */
  #upgrade: (() => Promise<unknown>) | undefined;

  /**
   * Listen on the control socket, once every worker listens: so that an upgrade takes the
   * path over only when it can serve. A live server there (and no upgrade) refuses the
   * start: what started stops first.
   */
  async #openControl(adapter: Adapter, addresses: Address[], registry: Registry): Promise<void> {
    const config = this.#config;
    const pool = this.#pool === undefined ? undefined : this.#control;
    if (config.controlSocket === false || (config.controlSocket === undefined && pool === undefined)) return;
    let path = config.controlSocket;
    if (path === undefined) {
      try {
        path = `${adapter.controlDirectory(true).path}/${defaultControlName(addresses[0], pid())}`;
      } catch (error) {
        logAt("warning", `no control socket: ${messageOf(error)} (or set --control-socket PATH, or off)`);
        return;
      }
    }
    try {
      this.#controlSocket = await serveControl(adapter, {
        path,
        explicit: config.controlSocket !== undefined,
        takeOver: this.#takeOver,
        stats: () => {
          // A process's memory read from outside it, where its heartbeat brought none (stats off).
          const status = registry.status();
          for (const row of status.rows) {
            if (row.memory === 0 && row.kind === "process" && row.pid !== undefined) {
              row.memory = adapter.processMemory(row.pid) ?? 0;
            }
          }
          return status;
        },
        pool,
        stop: (gracefulTimeout) => {
          if (gracefulTimeout !== undefined) {
            const timer = setTimeout(() => {
              logAt("info", `stop: still draining after ${gracefulTimeout} s; ending what remains`);
              this.#control?.kill();
              if (this.#pool === undefined) adapter.exit(0);
            }, gracefulTimeout * 1_000);
            (timer as { unref?: () => void }).unref?.();
          }
          this.close().then(() => adapter.exit(0));
        },
        logLevel: () => config.logLevel,
        setLogLevel: (level) => configureLog({ ...config, logLevel: config.logLevel = level }),
        upgrade: this.#upgrade,
        log: logger,
      });
      // close() came while it was being opened, and found none to close.
      if (this.#closing) this.#controlSocket?.close();
    } catch (error) {
      await this.#control?.stop();
      await this.#serving?.stop(false);
      for (const socket of this.#sockets?.paths ?? []) this.#sockets!.adapter.releaseUnixSocket(socket);
      throw error;
    }
  }

  /**
   * Started by an upgrade, every worker listening: tell the old primary, wait until it has
   * handed over (or is gone), then take the pid file over from it.
   */
  async #takeOverFrom(adapter: Adapter, from: UpgradeMarker): Promise<void> {
    const link = adapter.upgradeLink();
    if (link) {
      await new Promise<void>((resolve) => {
        link.onMessage((message) => message.multiserveUpgrade === "handover" && resolve());
        // The old primary went without a word (killed?): someone must serve, and this one can.
        link.onClose(resolve);
        link.send({ multiserveUpgrade: "ready" });
      });
      link.close();
    }
    if (this.#config.pid !== undefined) {
      try {
        adapter.writePidFile(this.#config.pid, pid(), from.pid);
        this.#pidFile = { adapter, path: this.#config.pid };
      } catch (error) {
        logAt("error", `upgrade: the pid file was not taken over: ${messageOf(error)}`);
      }
    }
    logAt("info", `upgrade: took over from the primary with pid ${from.pid}, which drains and exits`);
  }

  /**
   * Start a new primary and hand over to it once every one of its workers listens
   * (`PoolControl` runs this in its turn, as SIGUSR2 or `upgrade()` asked). Rejects, this
   * primary serving on, when the upgrade is refused here or the new primary fails.
   */
  async #startSuccessor(adapter: Adapter, by: string): Promise<void> {
    const fail = (why: string) => {
      logAt("error", `${by}: upgrade failed: ${why}; this primary (pid ${pid()}) serves on`);
      return new Error(`upgrade failed: ${why}`);
    };
    const refuse = (why: string) => {
      logAt("warning", `${by}: upgrade refused: ${why}; this primary serves on`);
      return new Error(`upgrade refused: ${why}`);
    };
    if (platform() !== "linux") {
      throw refuse("the new primary's workers bind beside these with SO_REUSEPORT, which only Linux spreads");
    }
    // Where this primary holds the one socket its worker processes share (node:cluster), the
    // socket itself is passed on, by its descriptor: no connection waits on a socket that
    // closes. Elsewhere the new workers bind beside these with SO_REUSEPORT.
    const addresses: Address[] = [];
    for (const address of this.#addresses) {
      if (address.unix !== undefined) {
        // node:cluster's socket removes its path as it closes, under the new primary's feet.
        throw refuse(
          `${
            urlOf(address)
          }: a unix socket's path is removed as the old primary's socket closes; restart the server instead, or bind a TCP port`,
        );
      }
      const fd = address.fd ?? adapter.sharedSocketFd(address);
      addresses.push(
        fd === undefined ? address : { ...address, fd, passed: address.passed || address.fd === undefined },
      );
    }
    const marker: UpgradeMarker = { pid: pid(), addresses };
    const fds = addresses.flatMap((address) => address.fd === undefined ? [] : [address.fd]);
    const started = adapter.startPrimary({
      [UPGRADE_ENV]: JSON.stringify(marker),
      ...this.#notifier?.environment(),
    }, fds);
    if (typeof started === "string") throw refuse(started);
    const successor = this.#successor = started;
    const limitMs = upgradeLimitMs(this.#config.bootTimeout);
    logAt(
      "info",
      `${by}: started a new primary (pid ${successor.pid}); this one serves until every one of its workers listens (up to ${
        limitMs / 1_000
      } s)`,
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          successor.kill("SIGTERM");
          // One that does not hear SIGTERM (its start blocked) is not left behind.
          setTimeout(() => successor.kill("SIGKILL"), 5_000);
          reject(
            fail(
              `the new primary (pid ${successor.pid}) had not every worker listening within ${
                limitMs / 1_000
              } s; it is stopped`,
            ),
          );
        }, limitMs);
        successor.onMessage((message) => {
          if (message.multiserveUpgrade !== "ready") return;
          clearTimeout(timer);
          resolve();
        });
        successor.onExit((code, signal) => {
          clearTimeout(timer);
          reject(
            fail(
              `the new primary (pid ${successor.pid}) exited (${
                signal ?? `code ${code}`
              }) before every one of its workers listened; its log above says why`,
            ),
          );
        });
      });
      if (this.#closing) throw fail("this primary is stopping");
      // systemd first: the main pid must be the new one before this one drains.
      if (this.#notifier) {
        await this.#notifier.handOver(successor.pid).catch((error) => {
          successor.kill("SIGTERM");
          throw fail(
            `systemd was not told the new main pid: ${messageOf(error)}; the new primary is stopped`,
          );
        });
      }
    } finally {
      this.#successor = undefined;
    }
    // The pid file, the admin port and the unix sockets are the new primary's now.
    this.#pidFile = undefined;
    this.#sockets = undefined;
    await this.#admin?.close(0, CLOSE_CODES.goingAway);
    this.#admin = undefined;
    // This primary accepts no more on the sockets it passed on: the new one does, and what was
    // accepted here reaches a worker before they leave.
    for (const address of addresses) {
      if (address.fd !== undefined) adapter.stopAccepting(address.fd);
    }
    successor.send({ multiserveUpgrade: "handover" });
    successor.disconnect();
    logAt(
      "info",
      `${by}: upgrade done: the new primary (pid ${successor.pid}) serves; this one (pid ${pid()}) drains and exits`,
    );
    this.close().then(() => adapter.exit(0));
  }

  /** Remove the pid file this server wrote, if it still names this process. */
  #removePidFile(): void {
    if (this.#pidFile) this.#pidFile.adapter.removePidFile(this.#pidFile.path, pid());
    this.#pidFile = undefined;
  }

  /** Make way for the unix sockets among `addresses`, and remember them, to remove on exit. */
  async #claim(adapter: Adapter, addresses: Address[]): Promise<void> {
    const paths = unixPaths(addresses);
    for (const path of paths) await adapter.claimUnixSocket(path);
    this.#sockets = { adapter, paths };
  }

  /** Link this host's topics to other hosts' through Redis, in the background: serving never waits for it. */
  #linkRedis(url: string, registry: Registry): Promise<RedisLink | undefined> {
    registry.pubsubConnected = false;
    return import("./pubsub/redis.ts").then((redis) =>
      redis.linkRedis(url, theBus(), {
        onState: (connected) => registry.pubsubConnected = connected,
        log: (level, message) => logAt(level, message),
      })
    ).catch((error) => {
      logAt("warning", `pubsub: topics stay on this host: ${messageOf(error)}`);
      return undefined;
    });
  }

  /** The registry of this server, following its pool (or this isolate serving alone) and its log. */
  #observe(adapter: Adapter, plan: { processes: number; threads: number }): Registry {
    const threadsEach = plan.processes > 1 ? Math.max(plan.threads, 1) : 1;
    const registry = this.#registry = new Registry({
      runtime: adapter.runtime,
      version: adapter.version,
      pid: pid(),
      configured: () => (this.#pool?.count ?? 1) * threadsEach,
      memory: () => adapter.memoryUsage("process"),
    });
    this.#stopObserving = onLogEntry(registry.addEvent);
    if (plan.processes === 1 && plan.threads === 0) {
      registry.observe({
        type: "spawn",
        key: "main",
        worker: "main",
        kind: "process",
        pid: pid(),
        at: Date.now(),
      });
    }
    return registry;
  }

  /** What `watch` watches: `watchPath`, else the directory of the app module or of the entry script. */
  #watchRoots(adapter: Adapter, app: App | URL): string[] {
    if (this.#config.watchPath.length > 0) {
      return this.#config.watchPath.map((path) => path.startsWith("/") ? path : `${cwd()}/${path}`);
    }
    const entry = app instanceof URL ? app.href : adapter.mainModule();
    const path = entry.startsWith("file:") ? decodeURIComponent(new URL(entry).pathname) : entry;
    return [path.slice(0, path.lastIndexOf("/")) || "/"];
  }

  /** Loading the app alone is bounded by `bootTimeout` too (an async hang; a blocked loop cannot be). */
  async #withinBootTimeout<T>(loading: Promise<T>): Promise<T> {
    const { bootTimeout } = this.#config;
    if (bootTimeout === 0 || await settlesWithin(loading, bootTimeout * 1_000)) return loading;
    throw new BootError(`the app did not load within ${bootTimeout} s (bootTimeout)`);
  }

  /**
   * Trap every signal now, so that none meets the runtime's default (for SIGHUP, SIGTTIN and
   * SIGTTOU: the end of this process) at any point of its life; `PoolControl` decides.
   */
  #trapSignals(adapter: Adapter, alone: boolean): PoolControl {
    const traps = this.#traps = new SignalTraps(adapter);
    const control = this.#control = new PoolControl({
      alone,
      gracefulTimeout: this.#config.gracefulTimeout,
      log: logger,
      stop: () => {
        // Still loading the app alone, or not yet starting workers: nothing is in flight,
        // and the load may hang.
        if (this.#pool === undefined && this.#serving === undefined) {
          this.#removePidFile();
          return adapter.exit(0);
        }
        this.close().then(() => adapter.exit(0));
      },
      stopNow: (_signal, code) => {
        this.#pool?.kill();
        this.#removePidFile();
        adapter.exit(code);
      },
      onPhase: (phase) => this.#notifier?.phase(phase),
      upgrade: (by) => this.#startSuccessor(adapter, by),
    });
    for (const signal of PRIMARY_SIGNALS) traps.on(signal, () => control.signal(signal));
    traps.replay(takeEarlySignals());
    return control;
  }
}

/** The paths of the unix sockets among `addresses`. */
function unixPaths(addresses: Address[]): string[] {
  return addresses.flatMap((address) => address.unix === undefined ? [] : [address.unix.path]);
}

/** The line a primary prints when every worker listens. */
function startupLine(
  info: ListenInfo,
  version: string,
  watching: string[],
  note: string | undefined,
): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "es"}`;
  const shape = info.threads === 0
    ? `${plural(info.processes, "process")}, not threaded`
    : `${plural(info.processes, "process")} × ${info.threads} thread${info.threads === 1 ? "" : "s"}`;
  const workers = info.processes * Math.max(info.threads, 1);
  const watch = watching.length > 0 ? `; watching ${watching.join(", ")} for changes` : "";
  const admin = info.admin === undefined ? "" : `; admin on ${info.admin}`;
  return `listening on ${info.urls.join(" and ")} (${info.runtime} ${version}, ${shape}: ${workers} worker${
    workers === 1 ? "" : "s"
  }${watch}${admin}${note === undefined ? "" : `; ${note}`})`;
}

/**
 * Throw the runtime's `OptionError` when `proxyProtocol` is on where it cannot read PROXY
 * headers with these options (`unix`: a unix socket is bound): before any worker starts,
 * and by `--check`.
 */
export function checkProxyProtocol(adapter: Adapter, config: Config, unix: boolean): void {
  if (!config.proxyProtocol) return;
  adapter.checkProxyProtocol({ tls: config.cert !== undefined, unix, webSockets: config.maxWebSockets > 0 });
}
