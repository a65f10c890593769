// What the browser scripts share: Debian's Chromium launched the one way
// the project allows, and publishing from outside the browser.

import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "node:https";
import { request as plainRequest } from "node:http";

// Headless Debian Chromium with a fresh profile (`--user-data-dir`, which
// playwright takes as the first argument of launchPersistentContext).
// With `selfSigned`, the browser accepts any certificate: the servers'
// are the test's own, self-signed, and this is for tests only.
export async function launch({ viewport = { width: 1280, height: 800 }, selfSigned = false } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "sse-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    ignoreHTTPSErrors: selfSigned,
    viewport,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...(selfSigned ? ["--ignore-certificate-errors"] : []),
    ],
    timeout: 30000,
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// POSTs `body` as JSON to BASE/notify from outside the browser (inside it,
// over HTTP/1.1, the request could queue behind the page's streams).
// Resolves to the server's answer, `{sent, id}`.
export function publish(base, topic, body, event = "notification") {
  const url = new URL(`${base.replace(/\/$/, "")}/notify`);
  url.searchParams.set("topic", topic);
  url.searchParams.set("event", event);
  const tls = url.protocol === "https:";
  const send = tls ? request : plainRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        agent: tls ? new Agent({ rejectUnauthorized: false }) : undefined,
        timeout: 5000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => {
          if (res.statusCode !== 200) return reject(new Error(`publish: ${res.statusCode} ${text}`));
          try {
            resolve(JSON.parse(text));
          } catch (err) {
            reject(new Error(`publish: not JSON: ${text}`));
          }
        });
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("publish timed out")));
    req.end(JSON.stringify(body));
  });
}
