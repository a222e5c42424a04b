//! Strong `ETag`s on users, orders and products: `If-None-Match` gives a 304 while the tag is
//! current, `If-Match` makes a write (or a delete) happen only on the version it names, and of
//! two writers holding one tag exactly one wins, on any number of instances.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{PASSWORD, Reply, TestApp, item, spawn_app, spawn_app_with},
    smtp::{ReceivedMail, SmtpSink},
};

/// One resource and the changes the tests make to it.
struct Resource {
    path: String,
    token: String,
    /// The PATCH body of the `n`th change, each different from the last.
    patch: fn(u32) -> Value,
    /// A whole PUT body.
    put: Value,
}

async fn conditional(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    header: (&str, &str),
    body: Option<Value>,
) -> Reply {
    let mut builder = app
        .request(method, path)
        .bearer_auth(token)
        .header(header.0, header.1);
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    app.send(builder).await
}

#[track_caller]
fn strong_tag(reply: &Reply) -> String {
    let tag = reply.header("etag").expect("an ETag").to_owned();
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() > 2,
        "a strong tag: {tag}"
    );
    tag
}

async fn tag_of(app: &TestApp, path: &str, token: &str) -> String {
    let reply = app.get(path, Some(token)).await;
    reply.assert_status(200);
    strong_tag(&reply)
}

/// The GET of a resource: an `ETag`, then 304s for `If-None-Match` with it (alone, weak, in a
/// list, or `*`), and 200s for anything else.
async fn check_if_none_match(app: &TestApp, path: &str, token: &str) {
    let reply = app.get(path, Some(token)).await;
    reply.assert_status(200);
    let tag = strong_tag(&reply);
    for matching in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"nope\", {tag}"),
        "*".to_owned(),
    ] {
        let reply = conditional(
            app,
            Method::GET,
            path,
            token,
            ("if-none-match", &matching),
            None,
        )
        .await;
        reply.assert_status(304);
        assert_eq!(reply.body, Value::Null, "{path}: a 304 has no body");
        assert_eq!(reply.header("etag"), Some(tag.as_str()), "{path}");
    }
    for other in ["\"0-0\"", "garbage", ""] {
        let reply = conditional(
            app,
            Method::GET,
            path,
            token,
            ("if-none-match", other),
            None,
        )
        .await;
        reply.assert_status(200);
        assert_eq!(reply.header("etag"), Some(tag.as_str()), "{path}");
    }
}

/// PUT, PATCH and DELETE of a resource with stale, weak, listed and current tags.
async fn check_if_match(app: &TestApp, resource: &Resource) {
    let path = &resource.path;
    let token = &resource.token;
    let first = tag_of(app, path, token).await;

    let reply = conditional(
        app,
        Method::PATCH,
        path,
        token,
        ("if-match", &first),
        Some((resource.patch)(1)),
    )
    .await;
    reply.assert_status(200);
    let second = strong_tag(&reply);
    assert_ne!(first, second, "{path}: a write moves the tag");
    assert_eq!(tag_of(app, path, token).await, second, "{path}");
    let current = app.get(path, Some(token)).await.body;

    // The stale tag, a weak copy of the current one, and garbage: 412, and nothing changes.
    for stale in [first.clone(), format!("W/{second}"), "junk".to_owned()] {
        for (method, body) in [
            (Method::PATCH, Some((resource.patch)(2))),
            (Method::PUT, Some(resource.put.clone())),
            (Method::DELETE, None),
        ] {
            let reply =
                conditional(app, method.clone(), path, token, ("if-match", &stale), body).await;
            reply.assert_error(412, "precondition_failed");
            assert_eq!(
                app.get(path, Some(token)).await.body,
                current,
                "{method} {path}"
            );
        }
    }

    // A list holding the current tag matches.
    let listed = format!("\"0-0\", {first}, {second}");
    let reply = conditional(
        app,
        Method::PUT,
        path,
        token,
        ("if-match", &listed),
        Some(resource.put.clone()),
    )
    .await;
    reply.assert_status(200);
    let third = strong_tag(&reply);
    assert_ne!(third, second, "{path}");

    let reply = conditional(app, Method::DELETE, path, token, ("if-match", &third), None).await;
    reply.assert_status(204);
    app.get(path, Some(token)).await.assert_status(404);
}

#[tokio::test]
async fn users_orders_and_products_answer_304_while_the_tag_is_current() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app.simple_order(&ada.token).await;
    let product = app.create_product(&admin.token, "TEA", 500, Some(3)).await;

    check_if_none_match(&app, &format!("/api/users/{}", ada.id), &ada.token).await;
    check_if_none_match(&app, "/api/user", &ada.token).await;
    check_if_none_match(&app, &format!("/api/orders/{order}"), &ada.token).await;
    check_if_none_match(
        &app,
        &format!("/api/products/{}", product["id"]),
        &ada.token,
    )
    .await;

    // One account, one tag, whichever way it is read.
    let own = app.get("/api/user", Some(&ada.token)).await;
    let by_id = app
        .get(&format!("/api/users/{}", ada.id), Some(&ada.token))
        .await;
    assert_eq!(own.header("etag"), by_id.header("etag"));
}

#[tokio::test]
async fn if_match_guards_put_patch_and_delete_of_users() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let zoe = app.ordinary_user("Zoe").await;
    let resource = Resource {
        path: format!("/api/users/{}", zoe.id),
        token: admin.token.clone(),
        patch: |n| json!({"name": format!("Zoe {n}")}),
        put: json!({"name": "Zoe Replaced", "email": zoe.email}),
    };
    check_if_match(&app, &resource).await;
}

#[tokio::test]
async fn if_match_guards_put_patch_and_delete_of_orders() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app.simple_order(&ada.token).await;
    let resource = Resource {
        path: format!("/api/orders/{order}"),
        token: ada.token.clone(),
        patch: |n| json!({"notes": format!("note {n}")}),
        put: json!({"items": [item("Gadget", 1, 999)], "notes": "replaced"}),
    };
    check_if_match(&app, &resource).await;
}

#[tokio::test]
async fn if_match_guards_put_patch_and_delete_of_products() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let product = app.create_product(&admin.token, "TEA", 500, Some(3)).await;
    let resource = Resource {
        path: format!("/api/products/{}", product["id"]),
        token: admin.token.clone(),
        patch: |n| json!({"price_cents": 500 + i64::from(n)}),
        put: json!({"sku": "TEA", "name": "Green tea", "price_cents": 700}),
    };
    check_if_match(&app, &resource).await;
}

#[tokio::test]
async fn if_match_star_matches_any_existing_resource_and_nothing_else() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app.simple_order(&ada.token).await;
    let path = format!("/api/orders/{order}");

    let reply = conditional(
        &app,
        Method::PATCH,
        &path,
        &ada.token,
        ("if-match", "*"),
        Some(json!({"notes": "any version"})),
    )
    .await;
    reply.assert_status(200);
    assert_eq!(reply.body["notes"], "any version");
    let reply = conditional(
        &app,
        Method::DELETE,
        &path,
        &ada.token,
        ("if-match", "*"),
        None,
    )
    .await;
    reply.assert_status(204);
    let reply = conditional(
        &app,
        Method::PATCH,
        &path,
        &ada.token,
        ("if-match", "*"),
        Some(json!({"notes": "gone"})),
    )
    .await;
    reply.assert_error(404, "not_found");
}

#[tokio::test]
async fn someone_elses_resource_is_a_404_whatever_the_precondition() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let eve = app.ordinary_user("Eve").await;
    let order = app.simple_order(&ada.token).await;
    let tag = strong_tag(
        &app.get(&format!("/api/orders/{order}"), Some(&ada.token))
            .await,
    );
    for header in [tag.as_str(), "*", "\"0-0\""] {
        let reply = conditional(
            &app,
            Method::PATCH,
            &format!("/api/orders/{order}"),
            &eve.token,
            ("if-match", header),
            Some(json!({"notes": "mine now"})),
        )
        .await;
        reply.assert_error(404, "not_found");
        let reply = conditional(
            &app,
            Method::GET,
            &format!("/api/users/{}", ada.id),
            &eve.token,
            ("if-none-match", header),
            None,
        )
        .await;
        reply.assert_error(404, "not_found");
    }
}

#[tokio::test]
async fn the_tag_moves_with_every_change_and_only_then() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let product = app.create_product(&admin.token, "TEA", 500, Some(10)).await;
    let product_path = format!("/api/products/{}", product["id"]);
    let order = app
        .create_order(
            &ada.token,
            json!([{"product_id": product["id"], "quantity": 2}]),
        )
        .await;
    let order_path = format!("/api/orders/{}", order["id"]);
    let user_path = format!("/api/users/{}", ada.id);
    let tag = |reply: Reply| {
        reply.assert_status(200);
        strong_tag(&reply)
    };

    // Requests that change nothing keep the tag: an empty PATCH, the same values again.
    let order_tag = tag(app.get(&order_path, Some(&ada.token)).await);
    assert_eq!(
        tag(app.patch(&order_path, Some(&ada.token), json!({})).await),
        order_tag
    );
    let same_items = json!({"items": [{"product_id": product["id"], "quantity": 2}]});
    assert_eq!(
        tag(app
            .put(&order_path, Some(&ada.token), same_items.clone())
            .await),
        order_tag,
        "a PUT of the same order is no change"
    );
    let user_tag = tag(app.get(&user_path, Some(&ada.token)).await);
    assert_eq!(
        tag(app
            .patch(&user_path, Some(&ada.token), json!({"name": "Ada"}))
            .await),
        user_tag
    );

    // A status change moves the order's tag.
    let reply = app
        .patch(&order_path, Some(&admin.token), json!({"status": "paid"}))
        .await;
    let paid_tag = tag(reply);
    assert_ne!(paid_tag, order_tag);
    assert_eq!(tag(app.get(&order_path, Some(&ada.token)).await), paid_tag);

    // Stock taken by an order is a change to the product.
    let product_tag = tag(app.get(&product_path, None).await);
    app.create_order(
        &ada.token,
        json!([{"product_id": product["id"], "quantity": 1}]),
    )
    .await;
    let after_order = app.get(&product_path, None).await;
    assert_eq!(after_order.body["stock"], 7);
    let stocked_at = after_order.body["updated_at"].clone();
    assert_ne!(tag(after_order), product_tag);

    // A product's PUT or PATCH of the values it already has is no change; one new value is.
    let product_tag = tag(app.get(&product_path, None).await);
    let same = json!({"sku": "TEA", "name": "Product TEA", "price_cents": 500, "stock": 7});
    let reply = app.put(&product_path, Some(&admin.token), same).await;
    assert_eq!(reply.body["updated_at"], stocked_at);
    assert_eq!(
        tag(reply),
        product_tag,
        "a PUT of the same product is no change"
    );
    let same_price = json!({"price_cents": 500, "active": true});
    assert_eq!(
        tag(app
            .patch(&product_path, Some(&admin.token), same_price)
            .await),
        product_tag
    );
    let reply = app
        .patch(&product_path, Some(&admin.token), json!({"sku": "tea"}))
        .await;
    assert_eq!(reply.body["sku"], "tea");
    assert_ne!(tag(reply), product_tag, "a sku's new case is a change");

    // A new password changes the account (its `updated_at`), and so its tag, everywhere.
    let reply = app
        .patch(
            &user_path,
            Some(&ada.token),
            json!({"password": "a-new-password", "current_password": PASSWORD}),
        )
        .await;
    let new_tag = tag(reply);
    assert_ne!(new_tag, user_tag);
    assert_eq!(tag(app.get("/api/user", Some(&ada.token)).await), new_tag);
}

#[tokio::test]
async fn a_412_is_explained_in_the_clients_language() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app.simple_order(&ada.token).await;
    for (language, expected) in [("en", "has changed"), ("fr", "a changé")] {
        let reply = app
            .send(
                app.request(Method::PATCH, &format!("/api/orders/{order}"))
                    .bearer_auth(&ada.token)
                    .header("accept-language", language)
                    .header("if-match", "\"0-0\"")
                    .json(&json!({"notes": "late"})),
            )
            .await;
        reply.assert_error(412, "precondition_failed");
        let message = reply.body["message"].as_str().unwrap();
        assert!(message.contains(expected), "{language}: {message}");
    }
}

/// Two requests with one tag, one on each instance, `rounds` times: exactly one wins each
/// round and the other gets a 412.
async fn race(
    apps: [&TestApp; 2],
    path: &str,
    token: &str,
    rounds: u32,
    body: fn(u32, usize) -> Value,
) {
    for round in 0..rounds {
        let tag = tag_of(apps[0], path, token).await;
        let replies = join_all(apps.iter().enumerate().map(|(index, app)| {
            conditional(
                app,
                Method::PATCH,
                path,
                token,
                ("if-match", &tag),
                Some(body(round, index)),
            )
        }))
        .await;
        let mut statuses: Vec<u16> = replies.iter().map(|reply| reply.status.as_u16()).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 412], "{path}, round {round}");
        let winner = replies.iter().find(|reply| reply.status == 200).unwrap();
        let now = apps[1].get(path, Some(token)).await;
        assert_eq!(now.header("etag"), winner.header("etag"), "{path}");
        assert_eq!(now.body, winner.body, "{path}: the winner's change, only");
    }
}

#[tokio::test]
async fn of_two_writers_holding_one_tag_exactly_one_wins_across_instances() {
    let app = spawn_app().await;
    let other = app.another_instance().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app.simple_order(&ada.token).await;
    let product = app.create_product(&admin.token, "TEA", 500, None).await;

    race(
        [&app, &other],
        &format!("/api/orders/{order}"),
        &ada.token,
        5,
        |round, index| json!({"notes": format!("round {round} by {index}")}),
    )
    .await;
    race(
        [&app, &other],
        &format!("/api/users/{}", ada.id),
        &admin.token,
        5,
        |round, index| json!({"name": format!("Ada {round}.{index}")}),
    )
    .await;
    race(
        [&app, &other],
        &format!("/api/products/{}", product["id"]),
        &admin.token,
        5,
        |round, index| json!({"price_cents": 1_000 + i64::from(round) * 10 + i64::try_from(index).unwrap()}),
    )
    .await;
}

#[tokio::test]
async fn a_delete_racing_a_change_with_one_tag_lets_only_one_through() {
    let app = spawn_app().await;
    let other = app.another_instance().await;
    let ada = app.ordinary_user("Ada").await;
    for _ in 0..5 {
        let order = app.simple_order(&ada.token).await;
        let path = format!("/api/orders/{order}");
        let tag = strong_tag(&app.get(&path, Some(&ada.token)).await);
        let (deleted, patched) = tokio::join!(
            conditional(
                &app,
                Method::DELETE,
                &path,
                &ada.token,
                ("if-match", &tag),
                None
            ),
            conditional(
                &other,
                Method::PATCH,
                &path,
                &ada.token,
                ("if-match", &tag),
                Some(json!({"notes": "racing"})),
            ),
        );
        match (deleted.status.as_u16(), patched.status.as_u16()) {
            // The delete won: the change found no order, or another version of it.
            (204, 404 | 412) => app.get(&path, Some(&ada.token)).await.assert_status(404),
            (412, 200) => {
                let now = app.get(&path, Some(&ada.token)).await;
                assert_eq!(now.body["notes"], "racing");
            }
            statuses => panic!("both or neither won: {statuses:?}"),
        }
    }
}

#[tokio::test]
async fn cors_lets_browsers_send_the_preconditions_and_read_the_tag() {
    let app = spawn_app_with(&[("CORS_ORIGINS", "https://shop.example")]).await;
    let ada = app.ordinary_user("Ada").await;
    let preflight = app
        .send(
            app.request(Method::OPTIONS, "/api/user")
                .header("origin", "https://shop.example")
                .header("access-control-request-method", "PATCH")
                .header("access-control-request-headers", "if-match"),
        )
        .await;
    let allowed = preflight.header("access-control-allow-headers").unwrap();
    assert!(
        allowed.contains("if-match") && allowed.contains("if-none-match"),
        "{allowed}"
    );
    let reply = app
        .send(
            app.request(Method::GET, "/api/user")
                .bearer_auth(&ada.token)
                .header("origin", "https://shop.example"),
        )
        .await;
    let exposed = reply.header("access-control-expose-headers").unwrap();
    assert!(exposed.split(", ").any(|name| name == "etag"), "{exposed}");
}

/// The body of `POST /api/email/verify` for the link in a confirmation mail.
fn confirmation_of(mail: &ReceivedMail) -> Value {
    let link = mail.link();
    let query = link.split_once('?').unwrap().1;
    let value = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .unwrap()
            .replace("%40", "@")
            .replace("%2B", "+")
    };
    json!({"token": value("token"), "email": value("email")})
}

/// The `n`th mail (from 1) sent to `to`, waiting up to 5 s for it.
async fn nth_mail_to(sink: &SmtpSink, to: &str, n: usize) -> ReceivedMail {
    for _ in 0..100 {
        let mut mails: Vec<_> = sink
            .received()
            .into_iter()
            .filter(|mail| mail.recipients.iter().any(|recipient| recipient == to))
            .collect();
        if mails.len() >= n {
            return mails.remove(n - 1);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("expected {n} mails to {to}");
}

#[tokio::test]
async fn verifying_an_address_and_changing_it_move_the_accounts_tag() {
    let sink = SmtpSink::start_with_confirmations().await;
    let url = sink.url();
    let app = spawn_app_with(&[("SMTP_URL", url.as_str())]).await;
    let ada = app.ordinary_user("Ada").await;
    let own_tag = || async { tag_of(&app, "/api/user", &ada.token).await };

    let unverified = own_tag().await;
    let link = confirmation_of(&nth_mail_to(&sink, &ada.email, 1).await);
    app.post("/api/email/verify", None, link)
        .await
        .assert_status(200);
    let verified = own_tag().await;
    assert_ne!(verified, unverified, "a verified address is a change");

    let new_email = crate::helpers::unique_email("countess");
    app.patch(
        &format!("/api/users/{}", ada.id),
        Some(&ada.token),
        json!({"email": new_email, "current_password": PASSWORD}),
    )
    .await
    .assert_status(200);
    let pending = own_tag().await;
    assert_ne!(
        pending, verified,
        "an address waiting for confirmation is a change"
    );

    let link = confirmation_of(&nth_mail_to(&sink, &new_email, 1).await);
    app.post("/api/email/verify", None, link)
        .await
        .assert_status(200);
    let confirmed = own_tag().await;
    assert_ne!(confirmed, pending, "the new address is a change");
    assert_eq!(
        tag_of(&app, &format!("/api/users/{}", ada.id), &ada.token).await,
        confirmed
    );
}
