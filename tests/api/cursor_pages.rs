//! Lists read by cursor: every sort of every list walked while rows come and go, filters that
//! hold on every page, and cursors that open only for the list, sort, filters and reader they
//! were given for.

use std::collections::{HashMap, HashSet};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, ids_of, item, spawn_app};

/// One cursor page of `path` (which may hold a query): its rows and the next cursor, after
/// checking that the page has the cursor shape and at most `per_page` rows.
async fn cursor_page(
    app: &TestApp,
    token: Option<&str>,
    path: &str,
    cursor: &str,
    per_page: u64,
) -> (Vec<Value>, Option<String>) {
    let url = with_query(path, &format!("cursor={cursor}&per_page={per_page}"));
    let reply = app.get(&url, token).await;
    reply.assert_status(200);
    let meta = reply.body["meta"].as_object().unwrap();
    let mut keys: Vec<&str> = meta.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["next_cursor", "per_page"], "{url}: {meta:?}");
    assert_eq!(meta["per_page"], per_page);
    let rows = reply.data();
    assert!(rows.len() as u64 <= per_page, "{url}");
    let next = meta["next_cursor"].as_str().map(str::to_owned);
    if next.is_some() {
        assert_eq!(
            rows.len() as u64,
            per_page,
            "{url}: a page before the last is full"
        );
    }
    (rows, next)
}

/// Every row of `path`, read by page number (the order the cursor walk must keep).
async fn offset_ids(app: &TestApp, token: Option<&str>, path: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for page in 1.. {
        let reply = app
            .get(
                &with_query(path, &format!("page={page}&per_page=100")),
                token,
            )
            .await;
        reply.assert_status(200);
        ids.extend(reply.ids());
        if reply.body["meta"]["last_page"] == page {
            break;
        }
    }
    ids
}

/// `path` with `query` added to whatever query it has.
fn with_query(path: &str, query: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}{query}")
}

/// What a list's walk may do between two pages: add a row, and delete one.
trait Churn {
    /// Adds a row and returns its id.
    async fn insert(&mut self, app: &TestApp) -> i64;
    async fn delete(&mut self, app: &TestApp, id: i64);
}

/// Walks `path` by cursor, `per_page` rows a page; after each page, deletes the page's last
/// row (the one its cursor points at) and the last row still to come, and adds a row. Then
/// checks that every row that was there throughout came exactly once, in the order the list
/// had before, and that no row came twice.
async fn walk_with_churn(
    app: &TestApp,
    token: Option<&str>,
    path: &str,
    per_page: u64,
    churn: &mut impl Churn,
) {
    let before = offset_ids(app, token, path).await;
    assert!(before.len() as u64 > 2 * per_page, "{path}: enough rows");
    let mut deleted = HashSet::new();
    let mut inserted = HashSet::new();
    let mut walked = Vec::new();
    let mut cursor = "start".to_owned();
    loop {
        let (rows, next) = cursor_page(app, token, path, &cursor, per_page).await;
        walked.extend(ids_of(&rows));
        let Some(next) = next else { break };
        cursor = next;
        let at_cursor = *walked.last().unwrap();
        let still_to_come = before
            .iter()
            .rev()
            .find(|id| !walked.contains(id) && !deleted.contains(*id))
            .copied();
        for id in std::iter::once(at_cursor).chain(still_to_come) {
            if deleted.insert(id) {
                churn.delete(app, id).await;
            }
        }
        inserted.insert(churn.insert(app).await);
    }
    let mut seen = HashSet::new();
    for id in &walked {
        assert!(seen.insert(*id), "{path}: {id} came twice in {walked:?}");
        assert!(
            before.contains(id) || inserted.contains(id),
            "{path}: {id} is not in the list"
        );
    }
    let throughout: Vec<i64> = before
        .iter()
        .filter(|id| !deleted.contains(*id))
        .copied()
        .collect();
    let walked_of_those: Vec<i64> = walked
        .iter()
        .filter(|id| throughout.contains(id))
        .copied()
        .collect();
    assert_eq!(
        walked_of_those, throughout,
        "{path}: the rows there throughout, once each and in order (walked {walked:?}, before \
         {before:?}, deleted {deleted:?})"
    );
}

/// Orders of two owners: `total_cents` and `created_at` tie often, so ties are broken by id.
struct OrderChurn {
    token: String,
    totals: std::vec::IntoIter<i64>,
}

impl Churn for OrderChurn {
    async fn insert(&mut self, app: &TestApp) -> i64 {
        let total = self.totals.next().unwrap_or(700);
        app.create_order(&self.token, json!([item("Widget", 1, total)]))
            .await["id"]
            .as_i64()
            .unwrap()
    }

    async fn delete(&mut self, app: &TestApp, id: i64) {
        app.delete(&format!("/api/orders/{id}"), Some(&self.token))
            .await
            .assert_status(204);
    }
}

/// An admin and Ann, with 12 pending orders: 8 of Ann's and 4 of Bob's.
async fn orders_for_walks(app: &TestApp) -> (String, i64, String) {
    let (_, admin) = app.admin_token().await;
    let (ann, ann_token) = app.user_token("Ann").await;
    let (_, bob_token) = app.user_token("Bob").await;
    more_orders(app, &ann_token, &bob_token).await;
    (admin, ann, ann_token)
}

/// 12 pending orders, 8 of `ann_token`'s and 4 of `bob_token`'s, whose totals tie often.
async fn more_orders(app: &TestApp, ann_token: &str, bob_token: &str) {
    for (index, total) in [500, 300, 500, 100, 300, 500, 200, 100, 400, 300, 200, 500]
        .into_iter()
        .enumerate()
    {
        let token = if index % 3 == 0 { bob_token } else { ann_token };
        app.create_order(token, json!([item("Widget", 1, total)]))
            .await;
    }
}

const ORDER_SORTS: [&str; 6] = [
    "id",
    "-id",
    "created_at",
    "-created_at",
    "total_cents",
    "-total_cents",
];

#[tokio::test]
async fn every_sort_of_the_orders_walks_without_a_repeat_or_a_gap_while_rows_come_and_go() {
    let app = spawn_app().await;
    let (_, admin) = app.admin_token().await;
    let (_, ann_token) = app.user_token("Ann").await;
    let (_, bob_token) = app.user_token("Bob").await;
    for sort in ORDER_SORTS {
        more_orders(&app, &ann_token, &bob_token).await;
        // The admin deletes anyone's pending order; the new ones sort at both ends.
        let mut churn = OrderChurn {
            token: admin.clone(),
            totals: vec![50, 900, 300, 50, 900, 300].into_iter(),
        };
        walk_with_churn(
            &app,
            Some(&admin),
            &format!("/api/orders?sort={sort}"),
            3,
            &mut churn,
        )
        .await;
        // The owner's own list, narrowed by a status.
        more_orders(&app, &ann_token, &bob_token).await;
        let mut churn = OrderChurn {
            token: ann_token.clone(),
            totals: vec![900, 50, 300, 900, 50].into_iter(),
        };
        walk_with_churn(
            &app,
            Some(&ann_token),
            &format!("/api/orders?sort={sort}&status=pending"),
            2,
            &mut churn,
        )
        .await;
    }
}

struct UserChurn {
    admin: String,
    names: std::vec::IntoIter<&'static str>,
}

impl Churn for UserChurn {
    async fn insert(&mut self, app: &TestApp) -> i64 {
        let name = self.names.next().unwrap_or("walker");
        app.ordinary_user(name).await.id
    }

    async fn delete(&mut self, app: &TestApp, id: i64) {
        app.delete(&format!("/api/users/{id}"), Some(&self.admin))
            .await
            .assert_status(204);
    }
}

#[tokio::test]
async fn every_sort_of_the_users_walks_without_a_repeat_or_a_gap_while_rows_come_and_go() {
    let app = spawn_app().await;
    let (_, admin) = app.admin_token().await;
    for sort in [
        "id",
        "-id",
        "created_at",
        "-created_at",
        "name",
        "-name",
        "email",
        "-email",
    ] {
        // Names tie (and every account of a test is made within a second or two).
        for name in [
            "walker", "walker", "awalker", "walker", "zwalker", "walker", "mwalker",
        ] {
            app.ordinary_user(name).await;
        }
        let mut churn = UserChurn {
            admin: admin.clone(),
            names: vec!["aawalker", "zzwalker", "walker", "aawalker", "zzwalker"].into_iter(),
        };
        walk_with_churn(
            &app,
            Some(&admin),
            &format!("/api/users?sort={sort}&q=walker&role=user"),
            2,
            &mut churn,
        )
        .await;
    }
}

struct ProductChurn {
    admin: String,
    made: u32,
}

impl Churn for ProductChurn {
    async fn insert(&mut self, app: &TestApp) -> i64 {
        self.made += 1;
        let price = if self.made.is_multiple_of(2) {
            1
        } else {
            99_999
        };
        app.create_product(&self.admin, &format!("NEW-{}", self.made), price, None)
            .await["id"]
            .as_i64()
            .unwrap()
    }

    async fn delete(&mut self, app: &TestApp, id: i64) {
        app.delete(&format!("/api/products/{id}"), Some(&self.admin))
            .await
            .assert_status(204);
    }
}

#[tokio::test]
async fn every_sort_of_the_products_walks_without_a_repeat_or_a_gap_while_rows_come_and_go() {
    let app = spawn_app().await;
    let (_, admin) = app.admin_token().await;
    let mut churn = ProductChurn { admin, made: 0 };
    let mut made = 0;
    for sort in [
        "id",
        "-id",
        "created_at",
        "-created_at",
        "name",
        "-name",
        "price_cents",
        "-price_cents",
    ] {
        for price in [300, 100, 300, 200, 300, 100, 200] {
            made += 1;
            app.create_product(&churn.admin, &format!("P-{made}"), price, None)
                .await;
        }
        // A visitor's list: the active products.
        walk_with_churn(
            &app,
            None,
            &format!("/api/products?sort={sort}"),
            2,
            &mut churn,
        )
        .await;
    }
}

#[tokio::test]
async fn the_filters_hold_on_every_page_and_the_last_page_says_so() {
    let app = spawn_app().await;
    let (admin, ann, ann_token) = orders_for_walks(&app).await;
    let (_, bob_token) = app.user_token("Bob").await;
    // The admin's pending orders: one still to come is paid meanwhile, and leaves the list.
    let (first, cursor) =
        cursor_page(&app, Some(&admin), "/api/orders?status=pending", "start", 4).await;
    let before = offset_ids(&app, Some(&admin), "/api/orders?status=pending").await;
    let paid = *before.last().unwrap();
    app.set_status(&admin, paid, "paid").await;
    let mut walked = ids_of(&first);
    let mut cursor = cursor.unwrap();
    loop {
        let (rows, next) =
            cursor_page(&app, Some(&admin), "/api/orders?status=pending", &cursor, 4).await;
        assert!(
            rows.iter().all(|row| row["status"] == "pending"),
            "{rows:?}"
        );
        walked.extend(ids_of(&rows));
        match next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert!(!walked.contains(&paid));
    assert_eq!(walked.len(), before.len() - 1);

    // Ann's list never shows Bob's orders, made between her pages.
    let mut cursor = "start".to_owned();
    let mut pages = 0;
    loop {
        let (rows, next) = cursor_page(&app, Some(&ann_token), "/api/orders", &cursor, 3).await;
        assert!(rows.iter().all(|row| row["user_id"] == ann), "{rows:?}");
        app.simple_order(&bob_token).await;
        pages += 1;
        match next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(pages, 3, "Ann's 8 orders, 3 a page");

    // A list that ends on a full page: its last page has no next cursor.
    let (carol, carol_token) = app.user_token("Carol").await;
    for _ in 0..6 {
        app.simple_order(&carol_token).await;
    }
    let path = format!("/api/orders?user_id={carol}");
    let (rows, next) = cursor_page(&app, Some(&admin), &path, "start", 3).await;
    assert_eq!(rows.len(), 3);
    let (rows, next) = cursor_page(&app, Some(&admin), &path, &next.unwrap(), 3).await;
    assert_eq!((rows.len(), next), (3, None));
    let (rows, next) = cursor_page(&app, Some(&admin), &path, "start", 6).await;
    assert_eq!((rows.len(), next), (6, None));
    let (rows, next) = cursor_page(&app, Some(&admin), &path, "start", 100).await;
    assert_eq!((rows.len(), next), (6, None));
    // No one's orders: one empty last page.
    let (_, dan_token) = app.user_token("Dan").await;
    let (rows, next) = cursor_page(&app, Some(&dan_token), "/api/orders", "start", 5).await;
    assert_eq!((rows.len(), next), (0, None));
    // Pages by number keep their shape.
    let reply = app.get("/api/orders?per_page=2", Some(&admin)).await;
    let meta = reply.body["meta"].as_object().unwrap();
    let mut keys: Vec<&str> = meta.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["current_page", "last_page", "per_page", "total"]);
}

/// The cursor after the first row of `path` as `token` reads it.
async fn second_page_cursor(app: &TestApp, token: &str, path: &str) -> String {
    cursor_page(app, Some(token), path, "start", 1)
        .await
        .1
        .expect("more than one row")
}

#[tokio::test]
async fn a_cursor_opens_only_for_its_reader_its_filters_and_its_sort() {
    let app = spawn_app().await;
    let (admin, ann, ann_token) = orders_for_walks(&app).await;
    let (_, bob_token) = app.user_token("Bob").await;
    app.simple_order(&bob_token).await;
    app.simple_order(&bob_token).await;
    let refused = |reply: crate::helpers::Reply| reply.assert_invalid(&["cursor"]);

    let ann_cursor = second_page_cursor(&app, &ann_token, "/api/orders").await;
    let admin_cursor = second_page_cursor(&app, &admin, "/api/orders").await;
    let url = |cursor: &str| format!("/api/orders?cursor={cursor}");
    // Ann's own cursor works for her; for no one else, admin included.
    app.get(&url(&ann_cursor), Some(&ann_token))
        .await
        .assert_status(200);
    refused(app.get(&url(&ann_cursor), Some(&bob_token)).await);
    refused(app.get(&url(&ann_cursor), Some(&admin)).await);
    // The admin's cursor (over everyone's orders) is no key to them for Ann.
    refused(app.get(&url(&admin_cursor), Some(&ann_token)).await);

    // Another sort, another filter, or none: refused.
    let pending = second_page_cursor(&app, &admin, "/api/orders?status=pending").await;
    for other in [
        "/api/orders?status=paid",
        "/api/orders",
        "/api/orders?status=pending&sort=id",
        &format!("/api/orders?status=pending&user_id={ann}"),
    ] {
        refused(
            app.get(
                &with_query(other, &format!("cursor={pending}")),
                Some(&admin),
            )
            .await,
        );
    }
    app.get(
        &format!("/api/orders?status=pending&cursor={pending}"),
        Some(&admin),
    )
    .await
    .assert_status(200);
    let by_total = second_page_cursor(&app, &admin, "/api/orders?sort=-total_cents").await;
    refused(
        app.get(
            &format!("/api/orders?sort=total_cents&cursor={by_total}"),
            Some(&admin),
        )
        .await,
    );
    // A cursor of one list is not one of another.
    let users_cursor = second_page_cursor(&app, &admin, "/api/users").await;
    refused(app.get(&url(&users_cursor), Some(&admin)).await);
    let users_by_name = second_page_cursor(&app, &admin, "/api/users?sort=name&q=a").await;
    refused(
        app.get(
            &format!("/api/users?sort=name&q=b&cursor={users_by_name}"),
            Some(&admin),
        )
        .await,
    );
}

#[tokio::test]
async fn a_tampered_or_made_up_cursor_and_a_cursor_with_a_page_are_422s_in_the_clients_language() {
    let app = spawn_app().await;
    let (admin, _, _) = orders_for_walks(&app).await;
    let cursor = second_page_cursor(&app, &admin, "/api/orders").await;
    let (payload, signature) = cursor.split_once('.').unwrap();
    // The payload says where the page starts: moving it, even by one id, breaks the signature.
    let flipped = |text: &str| -> String {
        let mut chars: Vec<char> = text.chars().collect();
        chars[2] = if chars[2] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect()
    };
    let mut tampered = vec![
        format!("{}.{signature}", flipped(payload)),
        format!("{payload}.{}", flipped(signature)),
        format!("{payload}.{signature}A"),
        format!("{payload}.{payload}"),
        payload.to_owned(),
        "abc".to_owned(),
        "Start".to_owned(),
        String::new(),
    ];
    // A well-formed cursor made up by the client, unsigned.
    tampered.push(format!("{payload}."));
    let mut messages = HashMap::new();
    for bad in &tampered {
        for language in ["en", "fr"] {
            let request = app
                .request(Method::GET, &format!("/api/orders?cursor={bad}"))
                .bearer_auth(&admin)
                .header("accept-language", language);
            let reply = app.send(request).await;
            reply.assert_invalid(&["cursor"]);
            messages.insert(language, reply.body["errors"]["cursor"][0].clone());
        }
    }
    assert!(
        messages["en"]
            .as_str()
            .is_some_and(|text| text.contains("cursor")),
        "{messages:?}"
    );
    assert!(
        messages["fr"]
            .as_str()
            .is_some_and(|text| text.contains("curseur")),
        "{messages:?}"
    );

    for path in ["/api/orders", "/api/users", "/api/products"] {
        for cursor in ["start", &cursor] {
            app.get(&format!("{path}?page=1&cursor={cursor}"), Some(&admin))
                .await
                .assert_invalid(&["cursor"]);
        }
        // Each list takes its first page by cursor.
        cursor_page(&app, Some(&admin), path, "start", 5).await;
    }
    // Nothing changed: the list reads as before.
    assert_eq!(
        offset_ids(&app, Some(&admin), "/api/orders").await.len(),
        12
    );
}

#[tokio::test]
async fn a_cursor_the_spec_allows_can_outgrow_the_uri_limit_a_414_each_list_declares() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let spec = app.get("/openapi.json", None).await;
    // 1 000 characters, as `cursor`'s `maxLength` allows, of four bytes each: 12 000 once
    // percent-encoded, over the 8 KiB a URI may have.
    let long = "🏻".repeat(1000);
    for path in ["/api/orders", "/api/users", "/api/products"] {
        app.get(&format!("{path}?cursor={long}"), Some(&admin.token))
            .await
            .assert_error(414, "uri_too_long");
        assert!(
            spec.body["paths"][path]["get"]["responses"]["414"].is_object(),
            "GET {path} does not declare its 414"
        );
    }
}
