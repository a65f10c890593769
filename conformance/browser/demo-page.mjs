// The demo page (`GET /`) of one example server, end to end in headless
// Chromium: connection state and client id, events published from outside
// and from the page's own form, the topic picker, a restart of the server
// on the same port (reconnect after `retry`, Last-Event-ID, `reset`, every
// new event exactly once), the page under a path prefix, and a phone-sized
// viewport.
//
//   node demo-page.mjs BASE PREFIXED_PAGE SCREENSHOT_DIR NAME RETRY_MS OTHER_ORIGIN
//
// OTHER_ORIGIN serves a page of another origin, which the server allows
// (`--cors-origin`).
//
// The server's lifecycle belongs to the caller (`cargo xtask browser`):
// the script asks for the restart by printing `@@ {"restart":true}` and
// waits for a line `restarted` on stdin. Its last line is
// `@@ {"checks":[{"name","ok","detail"}]}`; everything else goes to
// stderr.

import { createInterface } from "node:readline";
import { join } from "node:path";
import { launch, publish } from "./common.mjs";

const [base, prefixedPage, shots, name, retryText, otherOrigin] = process.argv.slice(2);
const retry = Number(retryText);
if (!base || !prefixedPage || !shots || !name || !Number.isFinite(retry) || !otherOrigin) {
  console.error("usage: node demo-page.mjs BASE PREFIXED_PAGE SCREENSHOT_DIR NAME RETRY_MS OTHER_ORIGIN");
  process.exit(2);
}

// Every wait is bounded: a stuck page fails its check instead of hanging.
const WAIT = { timeout: 10000 };
const PHONE = { width: 390, height: 844 };

const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
function say(message) {
  process.stdout.write(`@@ ${JSON.stringify(message)}\n`);
}
async function restartServer() {
  say({ restart: true });
  const { value, done } = await stdin.next();
  if (done || value.trim() !== "restarted") throw new Error(`the restart failed: ${value ?? "no answer"}`);
}

const checks = [];
async function check(title, body) {
  try {
    await body();
    checks.push({ name: title, ok: true, detail: "" });
  } catch (err) {
    checks.push({ name: title, ok: false, detail: String(err?.message ?? err).split("\n")[0] });
  }
}

function ensure(condition, message) {
  if (!condition) throw new Error(message);
}

// The page's rows for a marker, as { type, id, time, data }, newest first.
function rows(page, marker) {
  return page.$$eval(
    "#events li",
    (items, marker) =>
      items
        .filter((li) => li.querySelector(".data").textContent.includes(marker))
        .map((li) => ({
          type: li.dataset.type,
          id: li.dataset.id ?? "",
          time: li.querySelector("time").textContent,
          data: li.querySelector(".data").textContent,
        })),
    marker,
  );
}

// Waits for `promise`; when it fails, says what was awaited.
async function awaiting(what, promise) {
  try {
    return await promise;
  } catch (err) {
    throw new Error(`${what}: ${String(err?.message ?? err).split("\n")[0]}`);
  }
}

function shown(page, marker) {
  return awaiting(
    `the page never showed ${marker}`,
    page.waitForFunction(
      (marker) => [...document.querySelectorAll("#events li .data")].some((d) => d.textContent.includes(marker)),
      marker,
      WAIT,
    ),
  );
}

async function connected(page) {
  await awaiting("the page never showed the open state", page.waitForSelector('#state[data-state="open"]', WAIT));
  await awaiting(
    "the page never showed a clientId",
    page.waitForFunction(() => /^\d+$/.test(document.getElementById("client-id").textContent), null, WAIT),
  );
  return page.textContent("#client-id");
}

const run = `${process.pid}-${Date.now()}`;
const browser = await launch();
try {
  // Uncaught errors of the page's script, in every tab of the run.
  const errors = [];
  browser.context.on("weberror", (err) => errors.push(String(err.error())));
  const page = await browser.context.newPage();
  // Every stream the page opens, with when it was asked for.
  const streams = [];
  page.on("request", (request) => {
    if (request.resourceType() === "eventsource") streams.push({ request, at: Date.now() });
  });

  await check("the page shows the connected state and the clientId", async () => {
    await page.goto(`${base}/`, WAIT);
    const clientId = await connected(page);
    ensure(streams.length === 1, `${streams.length} streams opened`);
    const data = (await rows(page, "clientId")).find((row) => row.type === "connected")?.data ?? "";
    ensure(JSON.parse(data).clientId === Number(clientId), `the connected event says ${data}, the page ${clientId}`);
  });

  await check("an event published through /notify appears, with its type, id and time", async () => {
    const marker = `outside-${run}`;
    const { id } = await publish(base, "default", { marker });
    await shown(page, marker);
    const [row] = await rows(page, marker);
    ensure(row.type === "notification", `type ${row.type}`);
    ensure(row.id === id, `id ${row.id}, /notify said ${id}`);
    ensure(/^\d\d:\d\d:\d\d\.\d{3}$/.test(row.time), `time ${row.time}`);
    ensure((await page.textContent("#last-id")) === id, "the last event id is not shown");
  });

  await check("the page's publish form publishes", async () => {
    const marker = `form-${run}`;
    await page.fill("#event", "greeting");
    await page.fill("#body", JSON.stringify({ marker }));
    await page.click("#publish button");
    await awaiting("the form's publish never answered 200", page.waitForFunction(
      () => document.getElementById("publish-result").textContent.startsWith("200 "), null, WAIT));
    await shown(page, marker);
    const [row] = await rows(page, marker);
    ensure(row.type === "greeting", `type ${row.type}`);
    const answer = JSON.parse((await page.textContent("#publish-result")).slice(4));
    ensure(answer.sent === 1 && answer.id === row.id, `the form shows ${JSON.stringify(answer)}`);
  });

  await check("the topic picker subscribes to another topic", async () => {
    const opened = streams.length;
    await page.fill("#topic-input", "picked");
    await page.press("#topic-input", "Enter");
    await awaiting("the picker never showed two topics", page.waitForFunction(
      (n) => document.querySelectorAll("#topics li").length === n, 2, WAIT));
    await connected(page);
    ensure(streams.length === opened + 1, "no new stream");
    const query = new URL(streams.at(-1).request.url()).searchParams.getAll("topic");
    ensure(query.join(",") === "default,picked", `the new stream asks for ${query}`);
    ensure(new URL(page.url()).searchParams.getAll("topic").join(",") === "default,picked", "the address keeps no topics");
    const marker = `picked-${run}`;
    await publish(base, "picked", { marker });
    await shown(page, marker);
  });

  await check(
    "after a restart on the same port: reconnect after retry with Last-Event-ID, reset, new events once",
    async () => {
      const lastId = await page.textContent("#last-id");
      const attempts = Number(await page.textContent("#attempts"));
      const opened = streams.length;
      await restartServer();
      // Published as soon as the server is back, most likely before the
      // browser is: then it comes as replay after reset, else live.
      const early = `early-${run}`;
      await publish(base, "default", { marker: early });
      await awaiting("the page never showed reset", page.waitForSelector('#events li[data-type="reset"]', WAIT));
      await connected(page);
      const live = [`live-1-${run}`, `live-2-${run}`];
      for (const marker of live) await publish(base, "picked", { marker });
      // Events arrive in order: once the last is shown, any duplicate of an
      // earlier one would be too.
      const last = `last-${run}`;
      await publish(base, "default", { marker: last });
      await shown(page, last);

      const reconnects = streams.slice(opened);
      ensure(reconnects.length > 0, "the browser opened no new stream");
      // An attempt made while the server was still down never left the
      // browser (connection refused): Chromium reports only its provisional
      // headers, without Last-Event-ID. The attempts that reached the
      // server are the ones that must carry it.
      const reached = reconnects.filter(({ request }) => request.failure() === null);
      ensure(reached.length > 0, "no reconnect reached the restarted server");
      for (const { request } of reached) {
        const sent = await request.headerValue("last-event-id");
        ensure(sent === lastId, `a reconnect sent Last-Event-ID ${sent}, the page had ${lastId}`);
      }
      // The first attempt after the end, which may have found the server
      // still down, against the first end the page noticed (newest first).
      const reconnect = reconnects[0];
      const ends = await page.$$eval('#events li[data-type="disconnected"] time', (t) => t.map((e) => Date.parse(e.dateTime)));
      const ended = ends.at(-1);
      ensure(reconnect.at - ended >= retry - 50, `reconnected ${reconnect.at - ended} ms after the end, retry is ${retry} ms`);
      ensure(Number(await page.textContent("#attempts")) > attempts, "no reconnect attempt counted");
      // Neither carries an id: the page must not show the stream's last one.
      const unnumbered = await page.$$eval('#events li[data-type="reset"], #events li[data-type="connected"]', (items) =>
        items.filter((li) => li.dataset.id).length,
      );
      ensure(unnumbered === 0, `${unnumbered} connected or reset rows show an id`);
      const [lastRow] = await rows(page, last);
      ensure((await page.textContent("#last-id")) === lastRow.id, "the last event id is not the newest");
      const resets = await page.$$eval('#events li[data-type="reset"] .data', (d) => d.map((e) => e.textContent));
      ensure(resets.length === 1, `${resets.length} resets`);
      ensure(JSON.parse(resets[0]).lastEventId === lastId, `reset for ${resets[0]}, expected ${lastId}`);
      const order = await page.$$eval("#events li", (items) => items.map((li) => li.dataset.type));
      ensure(order.indexOf("reset") < order.indexOf("disconnected"), "reset shown before the stream ended");
      for (const marker of [early, ...live, last, `outside-${run}`, `form-${run}`, `picked-${run}`]) {
        const found = await rows(page, marker);
        ensure(found.length === 1, `${marker} shown ${found.length} times`);
      }
      const [earlyRow] = await rows(page, early);
      const position = await page.$$eval("#events li", (items, id) => items.findIndex((li) => li.dataset.id === id), earlyRow.id);
      ensure(position < order.indexOf("reset"), "the replayed event came before reset");
      await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    },
  );

  await check("under a path prefix (/sse/ behind nginx)", async () => {
    const prefixed = await browser.context.newPage();
    const opened = streams.length;
    const own = [];
    prefixed.on("request", (request) => {
      if (request.resourceType() === "eventsource") own.push(new URL(request.url()).pathname);
    });
    await prefixed.goto(prefixedPage, WAIT);
    await connected(prefixed);
    ensure(own[0] === "/sse/events", `the stream went to ${own[0]}`);
    const marker = `prefix-${run}`;
    await prefixed.fill("#body", JSON.stringify({ marker }));
    await prefixed.click("#publish button");
    await awaiting("the form's publish never answered 200", prefixed.waitForFunction(
      () => document.getElementById("publish-result").textContent.startsWith("200 "), null, WAIT));
    await shown(prefixed, marker);
    ensure(streams.length === opened, "the first page opened a stream meanwhile");
    await prefixed.close();
  });

  await check("a page on another origin publishes once with an Idempotency-Key", async () => {
    const app = await browser.context.newPage();
    await app.goto(`${otherOrigin}/`, WAIT);
    const key = `key-${run}`;
    const answers = await app.evaluate(async ({ base, key }) => {
      const send = async () => {
        try {
          const response = await fetch(`${base}/notify?topic=cross-origin`, {
            method: "POST",
            headers: { "content-type": "application/json", "idempotency-key": key },
            body: JSON.stringify({ key }),
          });
          return { status: response.status, body: await response.text() };
        } catch (err) {
          return { status: 0, body: String(err) };
        }
      };
      return [await send(), await send()];
    }, { base, key });
    ensure(answers.every((a) => a.status === 200), `answers ${JSON.stringify(answers)}`);
    const [first, retry] = answers.map((a) => JSON.parse(a.body).id);
    ensure(first && first === retry, `the retry was published again: ids ${first} and ${retry}`);
    await app.close();
  });

  await check("usable at 390×844: nothing wider than the screen", async () => {
    const phone = await browser.context.newPage();
    await phone.setViewportSize(PHONE);
    await phone.goto(`${base}/?topic=default&topic=phone`, WAIT);
    await connected(phone);
    await publish(base, "phone", { marker: `phone-${run}`, text: "a longer message that has to wrap on a narrow screen" });
    await shown(phone, `phone-${run}`);
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    ensure(width <= PHONE.width, `the page is ${width} px wide`);
    for (const selector of ["#state", "#publish button", "#topic-form button", "#events li"]) {
      const box = await phone.locator(selector).first().boundingBox();
      ensure(box && box.x >= 0 && box.x + box.width <= PHONE.width, `${selector} is off the screen`);
    }
    await phone.screenshot({ path: join(shots, `${name}-phone.png`) });
    await phone.close();
  });
  await check("no script errors on the page", async () => {
    ensure(errors.length === 0, errors.join("; "));
  });
} finally {
  await browser.close();
  say({ checks });
  process.exit(0);
}
