/**
 * What a publish carries, and how it crosses a process channel (JSON): text as it is,
 * binary as base64.
 *
 * @module
 */

/** Data to publish: text, or bytes (as `WebSocket.send` takes them, but a Blob). */
export type PublishData = string | ArrayBuffer | ArrayBufferView;

/** The bytes of binary data, without copying where they are a Uint8Array already. */
export function bytesOf(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

const CHUNK = 0x8000;

export function encodeData(data: PublishData): { text: string } | { base64: string } {
  if (typeof data === "string") return { text: data };
  const bytes = bytesOf(data);
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return { base64: btoa(binary) };
}

export function decodeData(message: { text?: string; base64?: string }): string | Uint8Array {
  if (message.text !== undefined) return message.text;
  const binary = atob(message.base64 ?? "");
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
