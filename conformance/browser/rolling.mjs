// The demo page through a rolling restart: two instances of one server on
// one Redis behind nginx (`examples/deploy/nginx-redis.conf`); events are
// published through nginx every 100 ms while the instance that holds the
// page's stream drains and restarts. The page must show every event
// exactly once, no `reset`, and that it reconnected.
//
//   node rolling.mjs PROXIED_BASE
//
// The servers belong to the caller (`cargo xtask browser`): the script
// asks for the restart by printing `@@ {"restart":true}` and waits for a
// line `restarted` on stdin. Its last line is
// `@@ {"checks":[{"name","ok","detail"}]}`; everything else goes to stderr.

import { createInterface } from "node:readline";
import { launch, publish } from "./common.mjs";

const [base] = process.argv.slice(2);
if (!base) {
  console.error("usage: node rolling.mjs PROXIED_BASE");
  process.exit(2);
}

const WAIT = { timeout: 20000 };
const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
function say(message) {
  process.stdout.write(`@@ ${JSON.stringify(message)}\n`);
}

const checks = [];
function ensure(condition, message) {
  if (!condition) throw new Error(message);
}

const run = `${process.pid}-${Date.now()}`;
const browser = await launch();
try {
  await (async () => {
    const errors = [];
    browser.context.on("weberror", (err) => errors.push(String(err.error())));
    const page = await browser.context.newPage();
    await page.goto(`${base}/`, WAIT);
    await page.waitForSelector('#state[data-state="open"]', WAIT);
    const attempts = Number(await page.textContent("#attempts"));

    // Publish every 100 ms through nginx, whichever instance takes it.
    const published = [];
    let publishing = true;
    const publisher = (async () => {
      for (let n = 0; publishing; n += 1) {
        const marker = `roll-${run}-${n}`;
        try {
          await publish(base, "default", { marker });
          published.push(marker);
        } catch (err) {
          // No answer: not counted, so it may show at most once.
          console.error(`publish ${marker}: ${err.message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = published.length;
    say({ restart: true });
    const { value, done } = await stdin.next();
    const answer = done ? "no answer" : value.trim();
    const during = published.length - before;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    publishing = false;
    await publisher;
    const last = published.at(-1);

    const name = "a rolling restart behind nginx: every event once, no reset, the page shows its reconnect";
    try {
      ensure(answer === "restarted", `the restart failed: ${answer}`);
      ensure(during > 0, "no event was published while the instance restarted");
      await page.waitForFunction(
        (marker) => [...document.querySelectorAll("#events li .data")].some((d) => d.textContent.includes(marker)),
        last,
        WAIT,
      );
      const shown = await page.$$eval("#events li .data", (items) => items.map((d) => d.textContent));
      for (const marker of published) {
        const times = shown.filter((text) => text.includes(`"${marker}"`)).length;
        ensure(times === 1, `${marker} shown ${times} times`);
      }
      const resets = await page.$$eval('#events li[data-type="reset"]', (items) => items.length);
      ensure(resets === 0, `${resets} resets`);
      const reconnects = await page.$$eval('#events li[data-type="disconnected"]', (items) => items.length);
      ensure(reconnects > 0, "the page shows no reconnect");
      ensure(Number(await page.textContent("#attempts")) > attempts, "no reconnect attempt counted");
      ensure((await page.getAttribute("#state", "data-state")) === "open", "the page is not connected again");
      ensure(errors.length === 0, `script errors: ${errors.join("; ")}`);
      checks.push({ name, ok: true, detail: `${published.length} events, ${during} during the restart` });
    } catch (err) {
      checks.push({ name, ok: false, detail: String(err?.message ?? err).split("\n")[0] });
    }
  })();
} finally {
  await browser.close();
}
say({ checks });
