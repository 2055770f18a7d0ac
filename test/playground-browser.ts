/**
 * What the playground's browser tests share: Debian's Chromium driven by playwright-core (no
 * browser download; a missing Chromium FAILS the tests with the command that installs it), a page
 * that records console errors and CSP violations, and axe-core injected into the page.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium, type Browser, type Page } from "playwright-core";
import { PLAYGROUND_DIR } from "../src/api/playground.js";

export const CHROMIUM = process.env.NIMBLE_CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

/** Chromium, or an error saying how to install it (never a silent skip). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: the playground's browser tests need it. Install it with \`apt-get install -y chromium\` (.ci/run does), or point NIMBLE_CHROMIUM at a Chromium binary.`);
  }
  if (!existsSync(`${PLAYGROUND_DIR}/index.html`)) {
    throw new Error(`The playground is not built (${PLAYGROUND_DIR}/index.html is missing): run \`npm run build:playground\` (npm ci does it).`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

export interface WatchedPage {
  page: Page;
  /** Console errors and uncaught exceptions, apart from the expected ones (404s of features not enabled, 401s of wrong keys). */
  problems: string[];
}

/** A new page (own context: fresh storage) that records problems; CSP violations always count. */
export async function openPage(browser: Browser, url: string): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const text = m.text();
    if (/status of (404|401|403)/.test(text) && !/Content Security Policy/.test(text)) return;
    problems.push(text);
  });
  page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
  await page.goto(url);
  return { page, problems };
}

const require = createRequire(import.meta.url);
let axeSource: string | undefined;

/** Runs axe-core in the page (injected through the DevTools protocol, which the page's CSP does not govern). */
export async function axeViolations(page: Page, impacts: readonly string[] = ["serious", "critical"]): Promise<string[]> {
  axeSource ??= readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  const results = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: unknown[] }[] }[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ["violations"] })).violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => JSON.stringify(n.target)) }));
  });
  return results.filter((v) => impacts.includes(v.impact)).map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.targets.join(", ")}`);
}

/** Opens a tab by its name (a click on the tab, as a user does). */
export async function openTab(page: Page, name: string): Promise<void> {
  await page.getByRole("tab", { name }).click();
  await page.getByRole("tabpanel", { name }).waitFor({ state: "visible" });
}

export function assertNoProblems(watched: WatchedPage): void {
  assert.deepEqual(watched.problems, [], "the page logged errors");
}
