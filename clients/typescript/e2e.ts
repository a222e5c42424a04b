// End-to-end check of the openapi-typescript + openapi-fetch client for openapi/openapi.json.
//
// generated/schema.d.ts comes from `openapi-typescript ../../openapi/openapi.json` (see
// clients/run) and is not committed. Needs a running server, and its binary to make an admin
// who stocks the catalogue:
//   COMPTOIR_URL=http://127.0.0.1:8080 COMPTOIR_BIN=target/release/comptoir node generated/dist/e2e.js
// Prints one line per step; exits 1 at the first step that does not hold.

import { setTimeout as sleep } from "node:timers/promises";
import { execFileSync } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import createClient from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

type Api = ReturnType<typeof createClient<paths>>;

type ErrorBody = components["schemas"]["ErrorBody"];
type Order = components["schemas"]["Order"];

// Compile-time proof that openapi-fetch types `error` as the spec's ErrorBody, not `any`/`unknown`.
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type ErrorOf<F extends (...args: never[]) => Promise<{ error?: unknown }>> = NonNullable<Awaited<ReturnType<F>>["error"]>;

class StepFailed extends Error {}

function check(step: string, condition: boolean, why: string): asserts condition {
  if (!condition) throw new StepFailed(`${step}: ${why}`);
}

function ok(step: string, detail: string): void {
  console.log(`ok   ${step}: ${detail}`);
}

/** The response has this status and openapi-fetch put its body in `data`. */
function expectData<D>(step: string, r: { data?: D; error?: unknown; response: Response }, status: number): D {
  check(step, r.response.status === status, `expected ${status}, got ${r.response.status}: ${JSON.stringify(r.error)}`);
  check(step, r.data !== undefined, "no body");
  return r.data;
}

/** The response has this status and openapi-fetch put its body, an ErrorBody, in `error`. */
function expectError(step: string, r: { data?: unknown; error?: ErrorBody; response: Response }, status: number): ErrorBody {
  check(step, r.response.status === status, `expected ${status}, got ${r.response.status}: ${JSON.stringify(r.data)}`);
  check(step, r.error !== undefined, "no error body");
  check(step, typeof r.error.code === "string" && typeof r.error.message === "string", `not an ErrorBody: ${JSON.stringify(r.error)}`);
  return r.error;
}

/** A warehouse gets an API token that may read orders and nothing else; it is deleted and
 * stops working at once. */
async function tokensJourney(baseUrl: string, authed: Api): Promise<void> {
  let step = "create an API token (token_create)";
  const made = expectData(
    step,
    await authed.POST("/api/tokens", {
      body: { name: "E2E TypeScript warehouse", abilities: ["orders:read"], expires_in: 3600 },
    }),
    201,
  );
  check(step, made.token.startsWith("cmpt_"), `token ${made.token.slice(0, 8)}…`);
  check(step, JSON.stringify(made.abilities) === '["orders:read"]', `abilities ${JSON.stringify(made.abilities)}`);
  ok(step, `201, id ${made.id}, abilities ${JSON.stringify(made.abilities)}`);

  step = "the API token reads orders";
  const warehouse = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${made.token}` } });
  expectData(step, await warehouse.GET("/api/orders"), 200);
  ok(step, "200 with the API token");

  step = "an ability the token lacks (403)";
  const lacking = expectError(step, await warehouse.DELETE("/api/orders/{id}", { params: { path: { id: 1 } } }), 403);
  check(step, lacking.code === "missing_ability", `code ${lacking.code}`);
  const sessionOnly = expectError(step, await warehouse.GET("/api/tokens"), 403);
  check(step, sessionOnly.code === "session_required", `code ${sessionOnly.code}`);
  ok(step, `ErrorBody ${lacking.code}, then ${sessionOnly.code} for token_list`);

  step = "list API tokens (token_list)";
  const listed = expectData(step, await authed.GET("/api/tokens"), 200);
  check(step, listed.data.length === 1 && listed.data[0]?.id === made.id, `ids ${listed.data.map((t) => t.id)}`);
  check(step, !("token" in (listed.data[0] ?? {})), "the list shows the token");
  ok(step, `200, ${listed.data.length} token, without the token itself`);

  step = "delete the API token (token_delete)";
  const deleted = await authed.DELETE("/api/tokens/{id}", { params: { path: { id: made.id } } });
  check(step, deleted.response.status === 204, `expected 204, got ${deleted.response.status}`);
  const denied = expectError(step, await warehouse.GET("/api/orders"), 401);
  ok(step, `204, then the token gets 401 ${denied.code}`);
}

/** A phone signs in, refreshes, and has its spent refresh token replayed too late (a thief's
 * copy): the session ends. A tablet is then signed out from `authed` by its session id. */
async function refreshJourney(baseUrl: string, api: Api, authed: Api, email: string, password: string): Promise<void> {
  // The server's grace window (REFRESH_REUSE_GRACE_SECS, 10 by default; conformance/run
  // shortens it): a spent refresh token replayed later than that ends its session.
  const grace = Number(process.env["REFRESH_REUSE_GRACE_SECS"] ?? "10");
  const phoneName = `E2E TypeScript phone ${crypto.randomUUID().slice(0, 6)}`;
  const refresh = (refreshToken: string) => api.POST("/api/token/refresh", { body: { refresh_token: refreshToken } });
  const named = async (step: string, deviceName: string) =>
    expectData(step, await authed.GET("/api/sessions"), 200).data.filter((s) => s.device_name === deviceName);

  let step = "login with a device name";
  const phone = expectData(
    step,
    await api.POST("/api/login", { body: { email, password, device_name: phoneName } }),
    200,
  );
  check(step, phone.refresh_token.length >= 43, `refresh_token ${phone.refresh_token}`);
  check(step, phone.refresh_expires_in > 0, `refresh_expires_in ${phone.refresh_expires_in}`);
  ok(step, `200, refresh token expires in ${phone.refresh_expires_in} s`);

  step = "refresh (token_refresh)";
  const fresh = expectData(step, await refresh(phone.refresh_token), 200);
  check(step, fresh.refresh_token !== phone.refresh_token, "the refresh token was not rotated");
  check(step, fresh.user.id === phone.user.id, `user ${fresh.user.id} is not ${phone.user.id}`);
  ok(step, `200, a new pair, access token expires in ${fresh.expires_in} s`);

  step = "the new access token works";
  const refreshed = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${fresh.access_token}` } });
  const me = expectData(step, await refreshed.GET("/api/user"), 200);
  check(step, me.id === phone.user.id, `user ${me.id}`);
  const phoneSessions = await named(step, phoneName);
  check(step, phoneSessions.length === 1, `sessions named ${phoneName}: ${JSON.stringify(phoneSessions)}`);
  ok(step, `GET /api/user is ${me.email}; one session named ${JSON.stringify(phoneName)}`);

  step = "the spent refresh token within the grace window";
  // Two tabs refreshing at once: the late one gets the same new pair, and nobody is signed out.
  const again = expectData(step, await refresh(phone.refresh_token), 200);
  check(step, again.refresh_token === fresh.refresh_token, "not the pair that replaced it");
  ok(step, `200, the same new refresh token (grace window ${grace} s)`);

  step = "the spent refresh token after the grace window (401)";
  await sleep((grace + 1) * 1000);
  const replay = () => refresh(phone.refresh_token);
  const refusalIsErrorBody: Equals<ErrorOf<typeof replay>, ErrorBody> = true;
  const reused = expectError(step, await replay(), 401);
  check(step, refusalIsErrorBody && reused.code === "refresh_token_reused", `code ${reused.code}`);
  ok(step, `ErrorBody code=${reused.code}, ${JSON.stringify(reused.message)}`);

  step = "the session is gone";
  const denied = expectError(step, await refreshed.GET("/api/user"), 401);
  const dead = expectError(step, await refresh(fresh.refresh_token), 401);
  check(step, dead.code === "invalid_refresh_token", `code ${dead.code}`);
  check(step, (await named(step, phoneName)).length === 0, "the session is still listed");
  ok(step, `its access token: ${denied.code}; its newest refresh token: ${dead.code}; not listed`);

  step = "sessions (session_list)";
  const tabletName = `E2E TypeScript tablet ${crypto.randomUUID().slice(0, 6)}`;
  const tablet = expectData(
    step,
    await api.POST("/api/login", { body: { email, password, device_name: tabletName } }),
    200,
  );
  const listed = expectData(step, await authed.GET("/api/sessions"), 200).data;
  const current = listed.filter((s) => s.current);
  check(step, current.length === 1 && current[0]?.device_name !== tabletName, `current ${JSON.stringify(current)}`);
  const tablets = listed.filter((s) => s.device_name === tabletName);
  const tabletSession = tablets[0];
  check(step, tablets.length === 1 && tabletSession !== undefined && !tabletSession.current, `sessions named ${tabletName}: ${JSON.stringify(tablets)}`);
  check(step, listed[0]?.id === tabletSession.id, "the newest session is not listed first");
  check(step, listed.every((s) => Date.parse(s.expires_at) > Date.parse(s.created_at)), "a session expires before it starts");
  ok(step, `200, ${listed.length} sessions, the tablet's first, this one current`);

  step = "sign a session out by id (session_revoke)";
  const revoke = () => authed.DELETE("/api/sessions/{id}", { params: { path: { id: tabletSession.id } } });
  const revoked = await revoke();
  check(step, revoked.response.status === 204, `expected 204, got ${revoked.response.status}`);
  const onTablet = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${tablet.access_token}` } });
  expectError(step, await onTablet.GET("/api/user"), 401);
  expectError(step, await refresh(tablet.refresh_token), 401);
  const gone = expectError(step, await revoke(), 404);
  ok(step, `204; the tablet's tokens are refused; the same id again is 404 ${gone.code}`);
}

/** An admin stocks a product; a customer orders it at the catalogue's price, which a later
 * change does not touch; the stock runs out; a product in orders is withdrawn, not deleted. */
async function catalogue(baseUrl: string, api: Api, customer: Api): Promise<Api> {
  const password = "correct horse battery";
  const tag = crypto.randomUUID().slice(0, 8);

  let step = "make an admin (create-admin)";
  const binary = process.env["COMPTOIR_BIN"];
  check(step, binary !== undefined && binary !== "", "COMPTOIR_BIN is not set (the server's binary, to make an admin)");
  const adminEmail = `e2e-ts-admin-${tag}@example.com`;
  execFileSync(binary, ["create-admin", "--email", adminEmail, "--name", "E2E admin"], {
    input: `${password}\n`,
    stdio: ["pipe", "ignore", "ignore"],
  });
  const signedIn = expectData(step, await api.POST("/api/login", { body: { email: adminEmail, password } }), 200);
  const admin = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${signedIn.access_token}` } });
  ok(step, `${adminEmail} signed in`);

  step = "create product";
  const sku = `COF-${tag}`;
  const created = await admin.POST("/api/products", {
    body: { sku, name: "Café en grains, 1 kg", price_cents: 1890, stock: 2 },
  });
  const product = expectData(step, created, 201);
  check(step, product.stock === 2 && product.active && product.currency === "EUR", JSON.stringify(product));
  check(step, (created.response.headers.get("location") ?? "").endsWith(`/api/products/${product.id}`), "Location");
  ok(step, `201, product ${product.id}, stock ${product.stock}`);

  step = "list and view products without a token";
  const page = expectData(step, await api.GET("/api/products", { params: { query: { q: sku.toLowerCase() } } }), 200);
  check(step, page.data.length === 1 && page.data[0]?.id === product.id, `ids ${page.data.map((p) => p.id)}`);
  const seen = expectData(step, await api.GET("/api/products/{id}", { params: { path: { id: product.id } } }), 200);
  check(step, seen.sku === sku, `sku ${seen.sku}`);
  ok(step, `200, found by q=${sku.toLowerCase()}`);

  step = "order by product";
  const order: Order = expectData(
    step,
    await customer.POST("/api/orders", { body: { items: [{ product_id: product.id, quantity: 2 }] } }),
    201,
  );
  const line = order.items[0];
  check(step, line !== undefined && line.product_id === product.id && line.sku === sku, JSON.stringify(line));
  check(step, line.unit_price_cents === 1890 && order.total_cents === 3780, `total_cents ${order.total_cents}`);
  ok(step, `201, order ${order.id} at the catalogue's price, ${order.total_cents} cents`);

  step = "out of stock (409)";
  const short = expectError(
    step,
    await customer.POST("/api/orders", { body: { items: [{ product_id: product.id, quantity: 1 }] } }),
    409,
  );
  check(step, short.code === "out_of_stock" && short.message.includes("items.0"), `${short.code}: ${short.message}`);
  ok(step, `ErrorBody code=${short.code}`);

  step = "a new price leaves the order as it was";
  const repriced = expectData(
    step,
    await admin.PATCH("/api/products/{id}", { params: { path: { id: product.id } }, body: { price_cents: 2500 } }),
    200,
  );
  check(step, repriced.price_cents === 2500 && repriced.stock === 0, JSON.stringify(repriced));
  const kept = expectData(step, await customer.GET("/api/orders/{id}", { params: { path: { id: order.id } } }), 200);
  check(step, kept.total_cents === 3780, `total_cents ${kept.total_cents}`);
  ok(step, "the order still costs 3780 cents");

  step = "a product in orders is withdrawn, not deleted";
  const inUse = expectError(
    step,
    await admin.DELETE("/api/products/{id}", { params: { path: { id: product.id } } }),
    409,
  );
  check(step, inUse.code === "product_in_orders", `code ${inUse.code}`);
  const withdrawn = expectData(
    step,
    await admin.PUT("/api/products/{id}", {
      params: { path: { id: product.id } },
      body: { sku, name: "Café en grains, 1 kg", price_cents: 2500, active: false },
    }),
    200,
  );
  check(step, !withdrawn.active && withdrawn.stock === null, JSON.stringify(withdrawn));
  expectError(step, await api.GET("/api/products/{id}", { params: { path: { id: product.id } } }), 404);
  ok(step, `409 ${inUse.code}; replaced inactive, now a 404 without a token`);

  step = "delete an unordered product";
  const spare = expectData(
    step,
    await admin.POST("/api/products", { body: { sku: `TMP-${tag}`, name: "Temporary", price_cents: 1 } }),
    201,
  );
  const gone = await admin.DELETE("/api/products/{id}", { params: { path: { id: spare.id } } });
  check(step, gone.response.status === 204, `expected 204, got ${gone.response.status}`);
  ok(step, "204");
  return admin;
}

/** The README's check of Comptoir-Signature, as a receiver writes it. */
function verified(secret: string, header: string, body: Buffer, tolerance = 300): boolean {
  const fields = new Map(header.split(",").map((part) => part.split("=", 2) as [string, string]));
  const t = fields.get("t") ?? "";
  const v1 = fields.get("v1") ?? "";
  const expected = createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");
  const fresh = Math.abs(Date.now() / 1000 - Number(t)) <= tolerance;
  return fresh && expected.length === v1.length && timingSafeEqual(Buffer.from(expected), Buffer.from(v1));
}

/** An admin points a webhook at a receiver here; a customer's order reaches it, signed; it is
 * sent again from the delivery log, paused, and deleted. */
async function webhooksJourney(admin: Api, customer: Api): Promise<void> {
  const received: { eventId: string; signature: string; body: Buffer }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({
        eventId: String(request.headers["comptoir-event-id"] ?? ""),
        signature: String(request.headers["comptoir-signature"] ?? ""),
        body: Buffer.concat(chunks),
      });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const waitFor = async (step: string, count: number) => {
    for (let i = 0; i < 150 && received.length < count; i++) await sleep(100);
    check(step, received.length >= count, `${received.length} deliveries, not ${count}`);
  };

  let step = "create a webhook (webhook_create)";
  const hook = expectData(
    step,
    await admin.POST("/api/webhooks", {
      body: { url, events: ["order.created"], description: "E2E TypeScript receiver" },
    }),
    201,
  );
  check(step, hook.secret.startsWith("whsec_"), "no secret");
  ok(step, `201, webhook ${hook.id}, events ${JSON.stringify(hook.events)}`);

  step = "an order reaches the receiver, signed";
  const order = expectData(
    step,
    await customer.POST("/api/orders", {
      body: { items: [{ product: "Thé vert, 100 g", quantity: 1, unit_price_cents: 650 }] },
    }),
    201,
  );
  await waitFor(step, 1);
  const first = received[0]!;
  check(step, verified(hook.secret, first.signature, first.body), `signature ${first.signature} does not verify`);
  const event = JSON.parse(first.body.toString("utf8"));
  check(step, event.id === first.eventId && event.type === "order.created", `event ${event.id} ${event.type}`);
  check(step, event.data.id === order.id, `data.id ${event.data.id}`);
  ok(step, `${first.eventId}, signature verified`);

  step = "the delivery log (webhook_delivery_list)";
  const path = { params: { path: { id: hook.id } } };
  let log = expectData(step, await admin.GET("/api/webhooks/{id}/deliveries", path), 200);
  for (let i = 0; i < 50 && log.data[0]?.state !== "delivered"; i++) {
    await sleep(100);
    log = expectData(step, await admin.GET("/api/webhooks/{id}/deliveries", path), 200);
  }
  const delivery = log.data[0]!;
  check(step, delivery.state === "delivered" && delivery.status_code === 200, JSON.stringify(delivery));
  ok(step, `200, ${delivery.event_id} ${delivery.state} after ${delivery.attempts} attempt`);

  step = "send it again (webhook_delivery_redeliver)";
  const again = await admin.POST("/api/webhooks/{id}/deliveries/{delivery_id}/redeliver", {
    params: { path: { id: hook.id, delivery_id: delivery.id } },
  });
  check(step, again.response.status === 202, `expected 202, got ${again.response.status}`);
  await waitFor(step, 2);
  check(step, received[1]!.eventId === first.eventId && received[1]!.body.equals(first.body), "not the same event");
  ok(step, "202, the same event again");

  step = "pause, list and view (webhook_update, webhook_list, webhook_view)";
  const paused = expectData(step, await admin.PATCH("/api/webhooks/{id}", { ...path, body: { enabled: false } }), 200);
  check(step, paused.enabled === false, "still enabled");
  const listed = expectData(step, await admin.GET("/api/webhooks"), 200);
  check(step, listed.data.some((w) => w.id === hook.id), "not listed");
  const viewed = expectData(step, await admin.GET("/api/webhooks/{id}", path), 200);
  check(step, viewed.url === url && !("secret" in viewed), JSON.stringify(viewed));
  ok(step, "paused, listed and shown without its secret");

  step = "delete the webhook (webhook_delete)";
  const deleted = await admin.DELETE("/api/webhooks/{id}", path);
  check(step, deleted.response.status === 204, `expected 204, got ${deleted.response.status}`);
  const gone = expectError(step, await admin.GET("/api/webhooks/{id}", path), 404);
  server.close();
  ok(step, `204, then 404 ${gone.code}`);
}

async function main(): Promise<void> {
  const baseUrl = process.env["COMPTOIR_URL"]?.replace(/\/+$/, "");
  check("setup", baseUrl !== undefined && baseUrl !== "", "COMPTOIR_URL is not set");

  const api = createClient<paths>({ baseUrl });
  const email = `e2e-ts-${crypto.randomUUID().slice(0, 12)}@example.com`;
  const password = "correct horse battery";

  let step = "register";
  const reg = expectData(
    step,
    await api.POST("/api/register", {
      body: { name: "E2E TypeScript", email, password, password_confirmation: password },
    }),
    201,
  );
  check(step, reg.token_type === "Bearer", `token_type ${reg.token_type}`);
  check(step, reg.user.email === email, `user.email ${reg.user.email}`);
  ok(step, `201, user ${reg.user.id}`);

  step = "login";
  const login = expectData(
    step,
    await api.POST("/api/login", { body: { email: email.toUpperCase(), password } }),
    200,
  );
  check(step, login.user.id === reg.user.id, `user ${login.user.id} is not ${reg.user.id}`);
  check(step, login.expires_in > 0, `expires_in ${login.expires_in}`);
  ok(step, `200, token expires in ${login.expires_in} s`);

  const authed = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${login.access_token}` } });

  step = "new confirmation link (429)";
  // Registration mailed one a moment ago: one a minute at most.
  const resent = await authed.POST("/api/email/verification-notification");
  const limited = expectError(step, resent, 429);
  const retryAfter = resent.response.headers.get("retry-after") ?? "";
  check(step, limited.code === "too_many_requests" && /^\d+$/.test(retryAfter), `code ${limited.code}, Retry-After ${retryAfter}`);
  ok(step, `ErrorBody code=${limited.code}, Retry-After: ${retryAfter}`);

  step = "made-up confirmation token (422)";
  const refused = expectError(step, await api.POST("/api/email/verify", { body: { email, token: "0".repeat(64) } }), 422);
  check(step, refused.errors !== undefined && "token" in refused.errors, `errors ${JSON.stringify(refused.errors)}`);
  ok(step, `ErrorBody code=${refused.code} fields=${Object.keys(refused.errors).join(",")}`);

  step = "create order";
  const created = await authed.POST("/api/orders", {
    body: {
      items: [
        { product: "Café en grains, 1 kg", quantity: 2, unit_price_cents: 1890 },
        { product: "Filtres n°4", quantity: 1, unit_price_cents: 350 },
      ],
      notes: "Livraison le matin",
    },
  });
  const order: Order = expectData(step, created, 201);
  check(step, order.user_id === reg.user.id, `user_id ${order.user_id}`);
  check(step, order.status === "pending", `status ${order.status}`);
  check(step, order.currency === "EUR", `currency ${order.currency}`);
  check(step, order.total_cents === 2 * 1890 + 350, `total_cents ${order.total_cents}`);
  check(step, order.items.map((i) => i.line_total_cents).join() === "3780,350", "line totals");
  check(step, order.notes === "Livraison le matin", `notes ${order.notes}`);
  const location = created.response.headers.get("location") ?? "";
  check(step, location.endsWith(`/api/orders/${order.id}`), `Location ${location}`);
  ok(step, `201, order ${order.id}, total ${order.total_cents} ${order.currency}, Location ${location}`);

  step = "list orders";
  const page = expectData(
    step,
    await authed.GET("/api/orders", { params: { query: { per_page: 100, status: "pending", sort: "-created_at" } } }),
    200,
  );
  check(step, page.data.map((o) => o.id).join() === String(order.id), `ids ${page.data.map((o) => o.id).join()}`);
  check(step, page.meta.total === 1 && page.meta.current_page === 1, `meta ${JSON.stringify(page.meta)}`);
  check(step, page.meta.per_page === 100, `per_page ${page.meta.per_page}`);
  ok(step, `200, ${page.meta.total} order(s) on page ${page.meta.current_page}/${page.meta.last_page}`);

  step = "patch order";
  const patched = expectData(
    step,
    await authed.PATCH("/api/orders/{id}", {
      params: { path: { id: order.id } },
      // null clears a nullable field
      body: { items: [{ product: "Café en grains, 1 kg", quantity: 3, unit_price_cents: 1890 }], notes: null },
    }),
    200,
  );
  check(step, patched.id === order.id, `id ${patched.id}`);
  check(step, patched.total_cents === 3 * 1890, `total_cents ${patched.total_cents}`);
  check(step, patched.notes === null || patched.notes === undefined, `notes ${patched.notes}`);
  check(step, patched.currency === "EUR", `currency ${patched.currency} (absent field changed)`);
  check(step, patched.status === "pending", `status ${patched.status}`);
  ok(step, `200, total ${patched.total_cents}, notes cleared`);

  step = "patch invalid (422)";
  const invalid = () =>
    authed.PATCH("/api/orders/{id}", {
      params: { path: { id: order.id } },
      body: { currency: "euro", items: [{ product: "Café en grains, 1 kg", quantity: 0, unit_price_cents: 1890 }] },
    });
  const errorIsErrorBody: Equals<ErrorOf<typeof invalid>, ErrorBody> = true;
  const err = expectError(step, await invalid(), 422);
  check(step, errorIsErrorBody && err.code === "validation_failed", `code ${err.code}`);
  check(step, err.message !== "", "empty message");
  check(step, err.errors !== undefined, "no errors map");
  const fields = Object.keys(err.errors).sort();
  check(step, fields.includes("currency") && fields.includes("items.0.quantity"), `error fields ${fields.join()}`);
  check(step, Object.values(err.errors).every((ms) => ms.every((m) => typeof m === "string")), "messages are not strings");
  ok(step, `ErrorBody code=${err.code} fields=${fields.join(",")}`);

  step = "order history";
  const history = expectData(
    step,
    await authed.GET("/api/orders/{id}/events", { params: { path: { id: order.id } } }),
    200,
  );
  const types = history.data.map((event) => event.type);
  check(step, types.join() === "created,updated", `types ${types.join()} (the 422 wrote none)`);
  const [createdEvent, updatedEvent] = history.data;
  check(step, createdEvent !== undefined && updatedEvent !== undefined, "two events");
  check(step, createdEvent.actor?.id === reg.user.id, `actor ${JSON.stringify(createdEvent.actor)}`);
  const changes = [...updatedEvent.changes].sort().join();
  check(step, changes === "items,notes", `changes ${changes}`);
  check(step, typeof updatedEvent.request_id === "string" && updatedEvent.request_id !== "", "no request id");
  ok(step, `200, ${types.join(",")}, the update changed ${changes}`);

  step = "delete order";
  const deleted = await authed.DELETE("/api/orders/{id}", { params: { path: { id: order.id } } });
  check(step, deleted.response.status === 204, `expected 204, got ${deleted.response.status}`);
  const gone = expectError(step, await authed.GET("/api/orders/{id}", { params: { path: { id: order.id } } }), 404);
  ok(step, `204, then GET is 404 ${gone.code}`);

  step = "in French (Accept-Language)";
  const french = await authed.GET("/api/orders/{id}", {
    params: { path: { id: order.id }, header: { "Accept-Language": "fr-CA, en;q=0.5" } },
  });
  const goneFr = expectError(step, french, 404);
  const language = french.response.headers.get("content-language");
  check(step, language === "fr", `Content-Language ${language}`);
  check(step, goneFr.code === gone.code && goneFr.message !== gone.message, `message ${goneFr.message}`);
  ok(step, `Content-Language: fr, ${JSON.stringify(goneFr.message)}`);

  await refreshJourney(baseUrl, api, authed, email, password);
  const admin = await catalogue(baseUrl, api, authed);
  await tokensJourney(baseUrl, authed);
  await webhooksJourney(admin, authed);

  step = "logout";
  const bye = expectData(step, await authed.POST("/api/logout"), 200);
  ok(step, `200, ${JSON.stringify(bye.message)}`);

  step = "revoked token (401)";
  const whoami = await authed.GET("/api/user");
  const denied = expectError(step, whoami, 401);
  const challenge = whoami.response.headers.get("www-authenticate") ?? "";
  check(step, challenge.startsWith("Bearer"), `WWW-Authenticate ${challenge}`);
  ok(step, `ErrorBody code=${denied.code}, WWW-Authenticate: ${challenge}`);

  console.log("typescript e2e: all steps passed");
}

main().catch((e: unknown) => {
  console.error(e instanceof StepFailed ? `FAIL ${e.message}` : e);
  process.exit(1);
});
