/**
 * Reading a server's admin endpoint in tests: where it listens, and its Prometheus metrics.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Child, fetchFresh } from "./_harness.ts";

/** The admin endpoint's URL, as the start-up line names it. */
export function adminUrlOf(child: Child): string {
  const match = child.stdout.match(/admin on (http:\/\/\S+?\/)[;)]/);
  assert.ok(match, `the start-up line names the admin URL: ${child.stdout}`);
  return match[1];
}

/** The samples of `name` (with `labels` among theirs) in a Prometheus text, added up. */
export function sum(metrics: string, name: string, labels = ""): number {
  let total = 0;
  for (const line of metrics.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels === "" || line.includes(labels)) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/** The text of `/metrics`, checked to be served as Prometheus text. */
export async function metrics(admin: string): Promise<string> {
  const reply = await fetchFresh(`${admin}metrics`);
  assert.equal(reply.status, 200);
  assert.match(String(reply.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  return reply.text;
}
