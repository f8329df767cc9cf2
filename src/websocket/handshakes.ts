/**
 * WebSocket upgrades whose handler has not finished yet. An adapter notes each request its
 * runtime upgraded (through `upgradeWebSocket()` or the runtime's own API); the app
 * boundary takes the note once the handler returns or throws, and then answers with what
 * the upgrade needs, whatever the handler did: Deno stops serving altogether when an
 * upgraded request gets any other answer, and the 101 must go out on every runtime alike.
 *
 * @module
 */

/** What an upgraded request must be answered with, and how to end its socket. */
export interface Handshake {
  /**
   * What the handler must hand the runtime for the upgrade to go through: the 101 Deno
   * made, the marker Bun's adapter upgrades on, or undefined where the runtime has
   * upgraded already (Bun's own `server.upgrade()`).
   */
  response: Response | undefined;
  /** The handler failed after upgrading: close the socket (1011) once it has opened. */
  abandon(): void;
}

const open = new WeakMap<Request, Handshake>();
/** Notes not yet taken: while none are, a request's end costs one comparison. */
let pending = 0;

/** `request` was upgraded by its handler, which has yet to return. */
export function noteHandshake(request: Request, handshake: Handshake): void {
  if (!open.has(request)) pending++;
  open.set(request, handshake);
}

/** The upgrade of `request`, if its handler upgraded it; the note is gone after. */
export function takeHandshake(request: Request): Handshake | undefined {
  if (pending === 0) return undefined;
  const handshake = open.get(request);
  if (handshake !== undefined) {
    open.delete(request);
    pending--;
  }
  return handshake;
}
