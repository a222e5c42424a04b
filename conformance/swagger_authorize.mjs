// Swagger UI's Authorize dialog, in a real headless Chromium: sign in through the OAuth2
// password flow (POST /api/oauth/token) with an email and a password, then "Try it out" on
// GET /api/user and read the 200 and the account's email in the response Swagger UI shows.
//
//   COMPTOIR_URL=http://127.0.0.1:8080 node conformance/swagger_authorize.mjs
//
// Chromium is Debian's (CHROMIUM overrides /usr/bin/chromium), driven by playwright-core
// (pinned in conformance/package.json), in a fresh profile that is deleted afterwards.
// Any step that does not happen within its time limit fails the check, with a screenshot.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

const base = (process.env.COMPTOIR_URL ?? "").replace(/\/$/, "");
if (!base) {
  console.error("COMPTOIR_URL is not set");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const STEP_MS = 15_000;

const email = `swagger-${randomBytes(6).toString("hex")}@example.com`;
const password = "swagger-ui-password";

function step(text) {
  console.log(`ok ${text}`);
}

async function register() {
  const response = await fetch(`${base}/api/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "Swagger UI", email, password }),
  });
  if (response.status !== 201) {
    throw new Error(`POST /api/register: ${response.status} ${await response.text()}`);
  }
  step(`registered ${email} over HTTP`);
}

async function main() {
  await register();
  const profile = await mkdtemp(join(tmpdir(), "comptoir-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(STEP_MS);
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    const { url } = message.location();
    // The browser asks for /favicon.ico by itself; the service has none.
    if (message.type() === "error" && !url.endsWith("/favicon.ico")) {
      problems.push(`console error: ${message.text()} (${url})`);
    }
  });
  // What Swagger UI sent to the token endpoint, to say so if it went wrong.
  const tokenRequests = [];
  page.on("response", (response) => {
    if (response.url().endsWith("/api/oauth/token")) tokenRequests.push(response);
  });

  try {
    await page.goto(`${base}/docs`);
    await page.locator("button.btn.authorize").click();
    step("Swagger UI loaded; Authorize opened");

    const dialog = page.locator(".dialog-ux .modal-ux");
    const flow = dialog.locator(".auth-container").filter({ hasText: "OAuth2Password" });
    await flow.locator("#oauth_username").fill(email);
    await flow.locator("#oauth_password").fill(password);
    await flow.locator("button.authorize").click();
    // Swagger UI swaps Authorize for Logout once the token endpoint answered with a token.
    try {
      await flow.locator("button", { hasText: "Logout" }).waitFor();
    } catch (error) {
      const shown = await flow.locator(".errors").allInnerTexts().catch(() => []);
      const sent = await Promise.all(
        tokenRequests.map(async (r) => `${r.status()} ${await r.text().catch(() => "")}`),
      );
      throw new Error(
        `the password flow did not authorize: dialog says ${JSON.stringify(shown)}; ` +
          `token endpoint answered ${JSON.stringify(sent)}`,
      );
    }
    const granted = tokenRequests.at(-1);
    if (!granted || granted.status() !== 200) {
      throw new Error(`the token endpoint answered ${granted?.status()}, not 200`);
    }
    step("signed in through the OAuth2 password flow (POST /api/oauth/token: 200)");
    await flow.locator("button.btn-done").click();
    await dialog.waitFor({ state: "detached" });

    const operation = page.locator("#operations-auth-account_view");
    await operation.locator(".opblock-summary").first().click();
    await operation.getByRole("button", { name: "Try it out" }).click();
    await operation.getByRole("button", { name: "Execute" }).click();
    const live = operation.locator(".live-responses-table .response").first();
    await live.waitFor();
    const status = (await live.locator(".response-col_status").innerText()).trim();
    const body = await live.locator(".response-col_description pre").first().innerText();
    if (status !== "200") {
      throw new Error(`GET /api/user from Swagger UI answered ${status}: ${body}`);
    }
    if (JSON.parse(body).email !== email) {
      throw new Error(`GET /api/user from Swagger UI showed another account: ${body}`);
    }
    step(`Try it out on GET /api/user: 200 with ${email}`);
    if (problems.length > 0) {
      throw new Error(`the page reported errors:\n${problems.join("\n")}`);
    }
  } catch (error) {
    const shot = join(tmpdir(), `comptoir-swagger-authorize-${Date.now()}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.error(`FAILED: ${error.message}\n(screenshot: ${shot})`);
    process.exitCode = 1;
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`FAILED: ${error.stack ?? error}`);
  process.exit(1);
});
