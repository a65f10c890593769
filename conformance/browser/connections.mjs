// How many EventSources one page can keep open to one server: headless
// Chromium (Debian's) opens COUNT of them, the script publishes one event
// per stream through /notify, and prints as JSON how many streams opened
// and how many received their event within the wait.
//
//   node connections.mjs https://127.0.0.1:PORT 10
//
// Over HTTP/1.1 a browser keeps at most six connections per origin, so
// the others wait; over HTTP/2 every stream shares one connection. The
// server's certificate is self-signed: the browser is told to accept it,
// in this test only.

import { launch, publish } from "./common.mjs";

const [base, countText, waitText = "3000"] = process.argv.slice(2);
const count = Number(countText);
const wait = Number(waitText);
if (!base || !Number.isInteger(count) || count < 1) {
  console.error("usage: node connections.mjs BASE_URL COUNT [WAIT_MS]");
  process.exit(2);
}

const browser = await launch({ selfSigned: base.startsWith("https:") });
try {
  const page = await browser.context.newPage();
  // A page of the server's own origin, which opens no stream itself.
  await page.goto(`${base}/healthz`, { timeout: 10000 });
  await page.evaluate((count) => {
    window.streams = [];
    for (let i = 0; i < count; i++) {
      const state = { opened: false, received: false };
      const source = new EventSource(`events?topic=browser-${i}`);
      source.onopen = () => (state.opened = true);
      source.addEventListener("probe", () => (state.received = true));
      window.streams.push(state);
    }
  }, count);
  // Let every stream that can open do so before publishing.
  await page.waitForFunction((count) => window.streams.filter((s) => s.opened).length === count, count, {
    timeout: wait,
  }).catch(() => {});
  for (let i = 0; i < count; i++) {
    await publish(base, `browser-${i}`, { stream: i }, "probe").catch(() => {});
  }
  await page.waitForFunction((count) => window.streams.filter((s) => s.received).length === count, count, {
    timeout: wait,
  }).catch(() => {});
  const streams = await page.evaluate(() => window.streams);
  const protocol = await page.evaluate(() => performance.getEntriesByType("navigation")[0]?.nextHopProtocol ?? "");
  console.log(
    JSON.stringify({
      protocol,
      opened: streams.filter((s) => s.opened).length,
      received: streams.filter((s) => s.received).length,
    }),
  );
} finally {
  await browser.close();
}
