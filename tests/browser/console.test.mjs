// Browser tests of the admin console (SPEC section 5, issue 7): headless
// Chromium (the Debian package, driven by playwright-core) against the built
// Worker running in workerd, in front of the demo origin.
//
//   node --test tests/browser/
//
// CHROMIUM_PATH overrides /usr/bin/chromium. The screenshot of the key list
// is written to docs/console.png.
import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { ADMIN_TOKEN, startGateway, startOrigin } from "../e2e/harness.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SCREENSHOT = path.join(root, "docs/console.png");
const KEY_RE = /^kg_(sk|pk)_[0-9A-Za-z]{49}$/;
const DESKTOP = { width: 1280, height: 860 };

let origin;
let gw;
let browser;
let context;
let page;
const requestUrls = [];
const pageProblems = [];

/** The console's row for the key named `name`. */
const row = (name) => page.locator("#keys-body tr").filter({ has: page.getByRole("button", { name: `${name}: details` }) });
const rowNames = () => page.locator("#keys-body td.cell-name").allInnerTexts();

async function signIn(token) {
  await page.fill("#signin-token", token);
  await page.click("#signin-submit");
}

/** The id of the dialog that holds the keyboard focus, if any. */
const focusedDialog = () => page.evaluate(() => document.activeElement?.closest("dialog")?.id ?? null);

async function waitForRows(count) {
  await page.waitForFunction((n) => document.querySelectorAll("#keys-body tr").length === n, count);
}

/**
 * Creates a key through the create dialog; returns { key, signingSecret }
 * as copied with the Copy button (read back from the clipboard).
 */
async function createThroughUi({
  owner,
  name,
  description = "",
  kind = "secret",
  scopes,
  grants = "",
  domains = "",
  rateLimit,
  credits,
  expires = "",
  signature = false,
}) {
  await page.click("#create-open");
  const dialog = page.locator("#key-dialog");
  await dialog.waitFor({ state: "visible" });
  assert.equal(await focusedDialog(), "key-dialog", "focus moves into the create dialog");
  if (owner !== undefined) await dialog.getByLabel("Owner", { exact: true }).fill(owner);
  await dialog.getByLabel("Name", { exact: true }).fill(name);
  await dialog.getByLabel("Description").fill(description);
  await dialog.getByRole("radio", { name: kind === "secret" ? /Secret/ : /Publishable/ }).check();
  if (scopes) {
    for (const box of await dialog.locator('input[name="scope"]').all()) {
      const value = await box.getAttribute("value");
      if (await box.isDisabled()) continue;
      await box.setChecked(scopes.includes(value));
    }
  }
  await dialog.getByLabel("Dataset grants").fill(grants);
  await dialog.getByLabel("Allowed domains").fill(domains);
  if (rateLimit) {
    await dialog.getByLabel("Requests", { exact: true }).fill(String(rateLimit.limit));
    await dialog.getByLabel("Per seconds").fill(String(rateLimit.period_seconds));
  }
  if (credits) {
    await dialog.getByLabel("Remaining").fill(String(credits.remaining));
    if (credits.refill) {
      await dialog.getByLabel("Refill to").fill(String(credits.refill.amount));
      await dialog.getByLabel("Every seconds").fill(String(credits.refill.interval_seconds));
    }
  }
  if (expires) await dialog.getByLabel("Expires on").fill(expires);
  await dialog.getByLabel(/Require signed requests/).setChecked(signature);
  await page.click("#key-form-submit");

  const secret = page.locator("#secret-dialog");
  await secret.waitFor({ state: "visible" });
  assert.equal(await focusedDialog(), "secret-dialog", "focus moves into the key dialog");
  await assert.doesNotReject(secret.getByText("You will not see this again").waitFor());
  const shown = await page.inputValue("#secret-key");
  await page.click("#secret-key-copy");
  await page.locator("#secret-copied").filter({ hasText: "copied" }).waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, shown, "the Copy button puts the shown key on the clipboard");
  let signingSecret = null;
  if (signature) {
    signingSecret = await page.inputValue("#secret-signing");
    assert.match(signingSecret, /^kg_sig_[0-9A-Za-z]{43}$/);
  } else {
    assert.equal(await page.locator("#secret-signing-field").isVisible(), false);
  }
  await page.click("#secret-done");
  await secret.waitFor({ state: "hidden" });
  assert.equal(await page.inputValue("#secret-key"), "", "the key leaves the page once the dialog closes");
  await row(name || "Untitled key").waitFor();
  return { key: copied, signingSecret };
}

async function openDetail(name) {
  await row(name).getByRole("button", { name: `${name}: details` }).click();
  await page.locator("#detail-dialog").waitFor({ state: "visible" });
  await page.locator("#detail-title").filter({ hasText: name }).waitFor();
  assert.equal(await focusedDialog(), "detail-dialog", "focus moves into the detail dialog");
}

async function closeDetail() {
  await page.locator("#detail-dialog").getByRole("button", { name: "Close" }).click();
  await page.locator("#detail-dialog").waitFor({ state: "hidden" });
}

const through = (key, init = {}) =>
  gw.fetch("/anything", { ...init, headers: { "X-API-Key": key, ...(init.headers || {}) } });

async function statusThrough(key, init) {
  const res = await through(key, init);
  await res.arrayBuffer();
  return res.status;
}

/** Whether the page is wider than its viewport (horizontal overflow). */
const overflow = () =>
  page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const offenders = [...document.querySelectorAll("body *")]
      .filter((el) => el.getBoundingClientRect().right > width + 1 && el.getClientRects().length)
      // Closed dialogs and the clipped (visually hidden) table head do not show.
      .filter((el) => !el.closest("dialog:not([open])") && !el.closest(".visually-hidden, thead"))
      .slice(0, 5)
      .map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}`);
    return { scrollWidth: document.documentElement.scrollWidth, width, offenders };
  });

describe("admin console", { timeout: 300_000 }, () => {
  // State shared by the steps, which run in order.
  const keys = {};
  // Our own tally of what the gateway answered for the checkout key.
  const tally = { allowed: 0, insufficient_scope: 0, key_disabled: 0 };

  before(async () => {
    origin = await startOrigin();
    gw = await startGateway({ originUrl: origin.url, vars: { MAX_KEYS_PER_OWNER: "30" } });
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    context = await browser.newContext({ viewport: DESKTOP, locale: "en-US", timezoneId: "UTC" });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: gw.url });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on("request", (request) => requestUrls.push(request.url()));
    page.on("pageerror", (error) => pageProblems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") pageProblems.push(`console: ${message.text()}`);
    });
  });

  // A failed step must not leave a modal dialog over the page for the next one.
  afterEach(async () => {
    await page?.evaluate(() => {
      for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
    });
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
    await origin?.stop();
  });

  it("serves the console under a strict CSP with the admin prefix filled in", async () => {
    const response = await page.goto(`${gw.url}/_keygate/console`);
    assert.equal(response.status(), 200);
    const csp = response.headers()["content-security-policy"];
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    const html = await response.text();
    assert.doesNotMatch(html, /\{\{ADMIN_PREFIX\}\}/);
    assert.doesNotMatch(html, /<script>|<style|style="/, "no inline script or style");
    assert.equal(await page.getAttribute("body", "data-admin-prefix"), "/_keygate");
    await page.locator("#signin-view").waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), "signin-token", "the token field has the focus");
  });

  it("shows the problem detail for a wrong token, then signs in with the admin token", async () => {
    const expected = await (await gw.admin("GET", "/v1/keys", undefined, "not-the-admin-token")).json();
    await signIn("not-the-admin-token");
    const error = page.locator("#signin-error");
    await error.waitFor({ state: "visible" });
    assert.match(await error.innerText(), new RegExp(expected.detail.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    assert.match(await error.innerText(), /401/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, "a refused token is not kept");

    await signIn(ADMIN_TOKEN);
    await page.locator("#keys-view").waitFor();
    assert.equal(await page.locator("#signin-error").isVisible(), false);
    assert.match(await page.innerText("#session-who"), /Admin token/);
    await page.getByText("No keys yet").waitFor();
    assert.equal(await page.evaluate(() => localStorage.length), 0, "nothing in localStorage");
    assert.deepEqual(await context.cookies(), [], "no cookies");
  });

  it("creates a key, copies it, and the key works through the gateway", async () => {
    keys.checkout = await createThroughUi({ owner: "acme", name: "Checkout server", description: "Payments backend (EU)" });
    assert.match(keys.checkout.key, KEY_RE);
    assert.match(keys.checkout.key, /^kg_sk_/);
    await page.locator("#panel-status").filter({ hasText: "created" }).waitFor();

    for (let i = 0; i < 3; i++) {
      const res = await through(keys.checkout.key);
      assert.equal(res.status, 200);
      const echoed = await res.json();
      assert.equal(echoed.method, "GET");
      assert.equal(echoed.headers["x-keygate-owner"], "acme");
      tally.allowed++;
    }

    const cells = await row("Checkout server").locator("td").allInnerTexts();
    const text = cells.join(" | ");
    assert.match(text, /Payments backend \(EU\)/);
    assert.match(text, new RegExp(`${keys.checkout.key.slice(0, 10)}…`), "the prefix is shown");
    assert.match(text, /secret/);
    assert.match(text, /acme/);
    assert.match(text, /Never/, "no expiry");
    assert.match(text, /active/);
  });

  it("creates more keys with every setting, shown oldest first", async () => {
    const expiry = new Date(Date.now() + 90 * 86400_000).toISOString().slice(0, 10);
    keys.storefront = await createThroughUi({
      owner: "acme",
      name: "Storefront web",
      description: "Browser checkout widget",
      kind: "publishable",
      domains: "shop.example.com\n*.example.org",
      rateLimit: { limit: 100, period_seconds: 60 },
    });
    assert.match(keys.storefront.key, /^kg_pk_/);
    keys.export = await createThroughUi({
      owner: "globex",
      name: "Nightly export",
      description: "Data warehouse sync",
      scopes: ["read:all"],
      grants: "read:datasets/prices, delete:datasets/tmp",
      credits: { remaining: 1000, refill: { amount: 1000, interval_seconds: 86400 } },
      expires: expiry,
      signature: true,
    });

    assert.deepEqual(await rowNames(), ["Checkout server", "Storefront web", "Nightly export"]);
    const listed = await (await gw.admin("GET", "/v1/keys?owner=globex")).json();
    const exported = listed.keys.find((k) => k.name === "Nightly export");
    assert.deepEqual(exported.scopes, ["read:all", "read:datasets/prices", "delete:datasets/tmp"]);
    assert.deepEqual(exported.credits, { remaining: 1000, refill: { amount: 1000, interval_seconds: 86400 } });
    assert.equal(exported.expires_at, `${expiry}T23:59:59Z`);
    const storefront = (await (await gw.admin("GET", "/v1/keys?owner=acme")).json()).keys.find((k) => k.name === "Storefront web");
    assert.equal(storefront.kind, "publishable");
    assert.deepEqual(storefront.scopes, ["read:all"]);
    assert.deepEqual(storefront.allowed_domains, ["shop.example.com", "*.example.org"]);
    assert.deepEqual(storefront.rate_limit, { limit: 100, period_seconds: 60 });
    assert.match(await row("Nightly export").innerText(), /globex/);

    // A browser app with the publishable key, from an allowed origin.
    assert.equal(await statusThrough(keys.storefront.key, { headers: { Origin: "https://shop.example.com" } }), 200);
    // The signing secret shown once signs requests the gateway accepts.
    assert.equal(exported.require_signature, true);
    assert.equal(await statusThrough(keys.export.key), 401, "unsigned requests are refused");
    const timestamp = String(Math.floor(Date.now() / 1000));
    const message = [timestamp, "GET", "/anything", createHash("sha256").update("").digest("hex")].join("\n");
    const signature = createHmac("sha256", keys.export.signingSecret).update(message).digest("hex");
    const signed = { "X-Keygate-Timestamp": timestamp, "X-Keygate-Signature": `v1=${signature}` };
    assert.equal(await statusThrough(keys.export.key, { headers: signed }), 200);
  });

  it("shows a create error's problem detail inside the dialog", async () => {
    await page.click("#create-open");
    const dialog = page.locator("#key-dialog");
    await dialog.getByLabel("Owner", { exact: true }).fill("acme");
    await dialog.getByLabel("Name", { exact: true }).fill("Broken");
    await dialog.getByLabel("Dataset grants").fill("fly:everywhere");
    await page.click("#key-form-submit");
    const error = page.locator("#key-form-error");
    await error.waitFor({ state: "visible" });
    assert.match(await error.innerText(), /scopes\[\d\]/, "the detail names the field");
    assert.match(await error.innerText(), /400 bad_request/);
    await page.locator("#key-dialog").getByRole("button", { name: "Cancel" }).click();
    await page.locator("#key-dialog").waitFor({ state: "hidden" });
    assert.equal(await page.locator("#keys-body tr").count(), 3, "nothing was created");
  });

  it("searches and clears", async () => {
    await page.getByLabel(/Search keys/).fill("storefront");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await waitForRows(1);
    assert.deepEqual(await rowNames(), ["Storefront web"]);
    assert.match(await page.innerText("#page-info"), /matching “storefront”/);

    // By description and by prefix too.
    await page.getByLabel(/Search keys/).fill("warehouse");
    await page.getByLabel(/Search keys/).press("Enter");
    await page.waitForFunction(() => document.querySelector("#keys-body td.cell-name")?.innerText === "Nightly export");
    assert.deepEqual(await rowNames(), ["Nightly export"]);

    await page.getByLabel(/Search keys/).fill("no-such-key");
    await page.getByLabel(/Search keys/).press("Enter");
    await page.getByText("No keys match “no-such-key”.").waitFor();

    await page.getByRole("button", { name: "Clear", exact: true }).click();
    await waitForRows(3);
    assert.equal(await page.inputValue("#search-q"), "");
    assert.deepEqual(await rowNames(), ["Checkout server", "Storefront web", "Nightly export"]);
  });

  it("edits the name and scopes", async () => {
    await openDetail("Checkout server");
    await page.click("#detail-edit");
    await page.locator("#key-dialog").waitFor({ state: "visible" });
    assert.equal(await focusedDialog(), "key-dialog");
    assert.equal(await page.locator("#kf-owner-field").isVisible(), false, "the owner cannot change");
    assert.equal(await page.locator('#key-dialog input[name="kind"][value="secret"]').isDisabled(), true, "the kind cannot change");
    assert.equal(await page.inputValue("#kf-name"), "Checkout server");
    const dialog = page.locator("#key-dialog");
    await dialog.getByLabel("Name", { exact: true }).fill("Checkout API");
    await dialog.getByLabel("write:all").uncheck();
    await dialog.getByLabel("Dataset grants").fill("write:datasets/orders");
    await page.click("#key-form-submit");
    await page.locator("#key-dialog").waitFor({ state: "hidden" });
    await page.locator("#detail-status").filter({ hasText: "Changes saved" }).waitFor();
    await page.locator("#detail-title").filter({ hasText: "Checkout API" }).waitFor();
    const facts = await page.innerText("#detail-facts");
    assert.match(facts, /write:datasets\/orders/);
    assert.doesNotMatch(facts, /write:all/);
    await closeDetail();
    await row("Checkout API").waitFor();
    assert.deepEqual(await rowNames(), ["Checkout API", "Storefront web", "Nightly export"]);

    const record = (await (await gw.admin("GET", "/v1/keys?owner=acme")).json()).keys[0];
    assert.equal(record.name, "Checkout API");
    assert.deepEqual([...record.scopes].sort(), ["delete:all", "read:all", "write:datasets/orders"]);
    assert.equal(record.description, "Payments backend (EU)", "untouched fields stay");

    // The new scopes apply at the edge: a POST needs write:all now.
    assert.equal(await statusThrough(keys.checkout.key, { method: "POST", body: "{}" }), 403);
    tally.insufficient_scope++;
    assert.equal(await statusThrough(keys.checkout.key), 200);
    tally.allowed++;
  });

  it("disables (the key gets 423) and enables again", async () => {
    await openDetail("Checkout API");
    const toggle = page.locator("#detail-toggle");
    assert.equal(await toggle.innerText(), "Disable");
    await toggle.click();
    await page.locator("#detail-status").filter({ hasText: "disabled" }).waitFor();
    assert.equal(await toggle.innerText(), "Enable");
    await page.locator("#detail-title .badge-disabled").waitFor();
    await row("Checkout API").locator(".badge-disabled").waitFor();
    assert.equal(await statusThrough(keys.checkout.key), 423);
    tally.key_disabled++;

    await toggle.click();
    await page.locator("#detail-status").filter({ hasText: "enabled" }).waitFor();
    assert.equal(await toggle.innerText(), "Disable");
    await row("Checkout API").locator(".badge-active").waitFor();
    assert.equal(await statusThrough(keys.checkout.key), 200);
    tally.allowed++;
    await closeDetail();
  });

  it("rolls: the old key fails, the new one (shown once) works", async () => {
    await openDetail("Checkout API");
    await page.click("#detail-roll");
    await page.locator("#roll-dialog").waitFor({ state: "visible" });
    assert.equal(await focusedDialog(), "roll-dialog");
    assert.equal(await page.inputValue("#roll-grace"), "0");
    await page.click("#roll-confirm");
    await page.locator("#secret-dialog").waitFor({ state: "visible" });
    const rolled = await page.inputValue("#secret-key");
    assert.match(rolled, KEY_RE);
    assert.notEqual(rolled, keys.checkout.key);
    await page.click("#secret-key-copy");
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), rolled);
    await page.click("#secret-done");
    await page.locator("#detail-status").filter({ hasText: "rolled" }).waitFor();
    assert.match(await page.innerText("#detail-facts"), new RegExp(rolled.slice(0, 10)), "the new prefix is shown");

    assert.equal(await statusThrough(keys.checkout.key), 401, "the old key stops working");
    assert.equal(await statusThrough(rolled), 200, "the new key works");
    tally.allowed++;
    keys.checkout = { key: rolled };
    await closeDetail();
    await row("Checkout API").getByText(`${rolled.slice(0, 10)}…`).waitFor();
  });

  it("charts the requests the test made", async () => {
    await openDetail("Checkout API");
    const expectedTotal = tally.allowed + tally.insufficient_scope + tally.key_disabled;
    await page.waitForFunction((n) => document.querySelector("#usage-totals")?.dataset.total === String(n), expectedTotal);
    const svg = page.locator("#usage-chart svg");
    assert.equal(await svg.getAttribute("role"), "img");
    assert.equal(await svg.getAttribute("data-total"), String(expectedTotal), "all within the last 60 minutes");
    const bars = await svg.locator("rect.bar").evaluateAll((rects) =>
      rects.map((r) => ({ outcome: r.dataset.outcome, count: Number(r.dataset.count), height: Number(r.getAttribute("height")) })),
    );
    assert.ok(bars.length >= 3, "a bar segment per outcome at least");
    assert.ok(bars.every((bar) => bar.height > 0));
    const sum = (outcome) => bars.filter((b) => b.outcome === outcome).reduce((a, b) => a + b.count, 0);
    for (const [outcome, n] of Object.entries(tally)) assert.equal(sum(outcome), n, `bars for ${outcome}`);
    for (const [outcome, n] of Object.entries(tally)) {
      assert.equal(await page.locator(`#usage-legend li[data-outcome="${outcome}"]`).getAttribute("data-count"), String(n));
    }
    assert.match(await page.innerText("#usage-totals"), new RegExp(`^${expectedTotal} requests in the last 60 minutes · ${expectedTotal} in total`));
    assert.match(await svg.getAttribute("aria-label"), new RegExp(`${tally.allowed} allowed`));

    // The other periods draw the same requests from the hour buckets.
    await page.locator("#detail-dialog").getByLabel("Period").selectOption("day");
    await page.waitForFunction((n) => document.querySelector("#usage-chart svg")?.dataset.total === String(n) && document.querySelector("#usage-chart svg")?.dataset.range === "day", expectedTotal);
    await page.locator("#detail-dialog").getByLabel("Period").selectOption("month");
    await page.waitForFunction((n) => document.querySelector("#usage-chart svg")?.dataset.range === "month" && document.querySelector("#usage-chart svg")?.dataset.total === String(n), expectedTotal);
    await page.locator("#detail-dialog").getByLabel("Period").selectOption("hour");
    await closeDetail();
    assert.doesNotMatch(await row("Checkout API").innerText(), /Never\s*$/, "last used is filled in");
  });

  it("saves a screenshot of the key list", async () => {
    // A paused key, so the list shows more than one status.
    await gw.createKey({
      owner: "initech",
      name: "Partner feed",
      description: "Read-only feed for a partner, paused",
      scopes: ["read:all"],
      enabled: false,
    });
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await waitForRows(4);
    assert.match(await row("Partner feed").innerText(), /disabled/);
    assert.match(await row("Partner feed").innerText(), /Never/, "never used");
    await page.setViewportSize({ width: DESKTOP.width, height: 640 });
    await page.evaluate(() => {
      document.activeElement?.blur();
      document.getElementById("panel-status").textContent = "";
    });
    const fits = await page.evaluate(() => {
      const card = document.querySelector(".table-card");
      return card.scrollWidth <= card.clientWidth;
    });
    assert.ok(fits, "the whole table fits a desktop width");
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.setViewportSize(DESKTOP);
  });

  it("fits a 360 px wide screen without horizontal overflow", async () => {
    await page.setViewportSize({ width: 360, height: 760 });
    let measured = await overflow();
    assert.ok(measured.scrollWidth <= 360 && !measured.offenders.length, `key list overflows: ${JSON.stringify(measured)}`);

    await page.click("#create-open");
    await page.locator("#key-dialog").waitFor({ state: "visible" });
    measured = await overflow();
    assert.ok(measured.scrollWidth <= 360 && !measured.offenders.length, `create dialog overflows: ${JSON.stringify(measured)}`);
    await page.keyboard.press("Escape");
    await page.locator("#key-dialog").waitFor({ state: "hidden" });

    await openDetail("Checkout API");
    await page.locator("#usage-chart svg").waitFor();
    await page.waitForTimeout(300); // the chart redraws to the new width
    measured = await overflow();
    assert.ok(measured.scrollWidth <= 360 && !measured.offenders.length, `detail dialog overflows: ${JSON.stringify(measured)}`);
    await closeDetail();
    await page.setViewportSize(DESKTOP);
  });

  it("revokes only after confirming: the row disappears and the key gets 401", async () => {
    await openDetail("Storefront web");
    await page.click("#detail-revoke");
    await page.locator("#revoke-dialog").waitFor({ state: "visible" });
    assert.equal(await page.evaluate(() => document.activeElement?.id), "revoke-cancel", "the safe choice has the focus");
    await page.click("#revoke-cancel");
    await page.locator("#revoke-dialog").waitFor({ state: "hidden" });
    assert.equal(await statusThrough(keys.storefront.key, { headers: { Origin: "https://shop.example.com" } }), 200, "cancel keeps the key");

    await page.click("#detail-revoke");
    await page.locator("#revoke-dialog").waitFor({ state: "visible" });
    assert.match(await page.innerText("#revoke-dialog"), /cannot be undone/);
    await page.click("#revoke-confirm");
    await page.locator("#revoke-dialog").waitFor({ state: "hidden" });
    await page.locator("#detail-dialog").waitFor({ state: "hidden" });
    await page.locator("#panel-status").filter({ hasText: "revoked" }).waitFor();
    await waitForRows(3);
    assert.deepEqual(await rowNames(), ["Checkout API", "Nightly export", "Partner feed"]);
    assert.equal(await statusThrough(keys.storefront.key, { headers: { Origin: "https://shop.example.com" } }), 401);
  });

  it("pages through keys and filters by owner", async () => {
    for (let i = 1; i <= 22; i++) await gw.createKey({ owner: "bulk", name: `Bulk ${String(i).padStart(2, "0")}` });
    await page.locator("#owner-form").getByLabel("Owner", { exact: true }).fill("bulk");
    await page.locator("#owner-form").getByRole("button", { name: "Filter" }).click();
    await waitForRows(20);
    const first = await rowNames();
    assert.equal(first[0], "Bulk 01");
    assert.equal(first[19], "Bulk 20");
    assert.equal(await page.locator("#page-prev").isDisabled(), true);
    await page.click("#page-next");
    await waitForRows(2);
    assert.deepEqual(await rowNames(), ["Bulk 21", "Bulk 22"]);
    assert.equal(await page.locator("#page-next").isDisabled(), true);
    assert.match(await page.innerText("#page-info"), /Keys 21–22/);
    await page.click("#page-prev");
    await waitForRows(20);
    assert.equal((await rowNames())[0], "Bulk 01");

    await page.locator("#owner-filter").fill("");
    await page.locator("#owner-form").getByRole("button", { name: "Filter" }).click();
    await page.waitForFunction(() => document.querySelector("#keys-body td.cell-name")?.innerText === "Checkout API");
  });

  it("signs in with an owner's admin key, confined to that owner", async () => {
    await page.locator("#owner-filter").fill("globex");
    await page.locator("#owner-form").getByRole("button", { name: "Filter" }).click();
    await waitForRows(1);
    const admin = await createThroughUi({ owner: "globex", name: "Globex admin", scopes: ["admin"] });
    await page.click("#sign-out");
    await page.locator("#signin-view").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, "sign out forgets the credential");

    await signIn(admin.key);
    await page.locator("#keys-view").waitFor();
    assert.match(await page.innerText("#session-who"), /owner globex/);
    assert.equal(await page.locator("#owner-form").isVisible(), false, "no owner filter for an owner key");
    await waitForRows(2);
    assert.deepEqual(await rowNames(), ["Nightly export", "Globex admin"]);
    assert.equal(await page.evaluate(() => sessionStorage.length), 1);

    // A reload resumes the session from this tab's sessionStorage.
    await page.reload();
    await waitForRows(2);
    assert.equal(await page.evaluate(() => localStorage.length), 0);

    // The owner's key creates for its owner without naming it.
    await page.click("#create-open");
    assert.equal(await page.locator("#kf-owner-field").isVisible(), false);
    await page.keyboard.press("Escape");

    await page.click("#sign-out");
    await page.locator("#signin-view").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await page.reload();
    await page.locator("#signin-view").waitFor();
    assert.equal(await page.locator("#keys-view").isVisible(), false, "signed out stays signed out");
  });

  it("sent no request to any host but the Worker, without page errors", () => {
    assert.ok(requestUrls.length > 10);
    const elsewhere = requestUrls.filter((url) => !url.startsWith(`${gw.url}/`));
    assert.deepEqual(elsewhere, []);
    const unexpected = pageProblems.filter((p) => !/status of (400|401|404)/.test(p));
    assert.deepEqual(unexpected, [], "no CSP violation or script error");
  });
});
