//! Users: the admin's list, creating, reading, replacing, patching and deleting accounts, and
//! who may do which.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, TestApp, assert_sorted, assert_utc_timestamp, ids_of, item, sorted_ids, spawn_app,
    unique_email,
};

const USER_KEYS: [&str; 9] = [
    "created_at",
    "email",
    "email_verified_at",
    "id",
    "locale",
    "name",
    "pending_email",
    "role",
    "updated_at",
];

#[track_caller]
fn assert_user_shape(user: &Value) {
    let mut keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, USER_KEYS, "{user}");
    assert_utc_timestamp(&user["created_at"]);
    assert_utc_timestamp(&user["updated_at"]);
}

// ---------------------------------------------------------------------------------------------
// Authentication and the list
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_users_route_needs_a_valid_token() {
    let app = spawn_app().await;
    let user = app.ordinary_user("Ada").await;
    let one = format!("/api/users/{}", user.id);
    let body =
        json!({"name": "Mallory", "email": unique_email("mallory"), "password": "password-9"});
    let routes = [
        (Method::GET, "/api/users", None),
        (Method::POST, "/api/users", Some(body.clone())),
        (Method::GET, one.as_str(), None),
        (Method::PUT, one.as_str(), Some(body.clone())),
        (
            Method::PATCH,
            one.as_str(),
            Some(json!({"name": "Mallory"})),
        ),
        (Method::DELETE, one.as_str(), None),
    ];
    for (method, path, body) in routes {
        for token in [None, Some("not-a-jwt")] {
            let reply = app.call(method.clone(), path, token, body.clone()).await;
            reply.assert_error(401, "unauthenticated");
            let challenge = reply.header("www-authenticate").unwrap();
            match token {
                None => assert_eq!(challenge, "Bearer"),
                Some(_) => assert!(challenge.starts_with("Bearer error=\"invalid_token\"")),
            }
        }
    }
    let me = app.user(&user.token, user.id).await;
    assert_eq!(me["name"], "Ada");
}

#[tokio::test]
async fn only_an_admin_can_list_users() {
    let app = spawn_app().await;
    let user = app.ordinary_user("Ada").await;
    app.get("/api/users", Some(&user.token))
        .await
        .assert_error(403, "forbidden");

    let admin = app.admin().await;
    let reply = app.get("/api/users", Some(&admin.token)).await;
    reply.assert_status(200);
    assert_eq!(reply.ids(), [user.id, admin.id]);
    reply.assert_meta(1, 20, 2, 1);
    let rows = reply.data();
    for row in &rows {
        assert_user_shape(row);
    }
    assert_eq!(rows[0]["role"], "user");
    assert_eq!(rows[0]["email"], user.email.as_str());
    assert_eq!(rows[1]["role"], "admin");
}

#[tokio::test]
async fn user_pages_cover_every_user_exactly_once_under_every_sort() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut expected = vec![admin.id];
    for i in 0..25 {
        // Names tie in groups; neither names nor emails follow the ids.
        let name = format!("n{}", (i * 3) % 8);
        let email = unique_email(&format!("u{:02}", (i * 7) % 25));
        expected.push(app.new_user(&name, &email).await.id);
    }
    expected.sort_unstable();

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
        let rows = app
            .all_pages(&admin.token, &format!("/api/users?sort={sort}"), 7, 26)
            .await;
        assert_sorted(&rows, sort);
        assert_eq!(sorted_ids(&rows), expected, "sort={sort}");
    }
    let by_id = app
        .all_pages(&admin.token, "/api/users?sort=id", 7, 26)
        .await;
    assert_eq!(ids_of(&by_id), expected);
    let mut reversed = expected.clone();
    reversed.reverse();
    let by_id_desc = app
        .all_pages(&admin.token, "/api/users?sort=-id", 7, 26)
        .await;
    assert_eq!(ids_of(&by_id_desc), reversed);

    // Without parameters: page 1 of 20, by id.
    let reply = app.get("/api/users", Some(&admin.token)).await;
    reply.assert_status(200);
    reply.assert_meta(1, 20, 26, 2);
    assert_eq!(reply.ids(), expected[..20]);
    let reply = app.get("/api/users?page=2", Some(&admin.token)).await;
    reply.assert_meta(2, 20, 26, 2);
    assert_eq!(reply.ids(), expected[20..]);
    let reply = app.get("/api/users?page=9", Some(&admin.token)).await;
    reply.assert_status(200);
    reply.assert_meta(9, 20, 26, 2);
    assert!(reply.data().is_empty());
    let reply = app.get("/api/users?per_page=100", Some(&admin.token)).await;
    reply.assert_meta(1, 100, 26, 1);
    assert_eq!(reply.ids(), expected);
    let reply = app.get("/api/users?per_page=1", Some(&admin.token)).await;
    reply.assert_meta(1, 1, 26, 26);
    assert_eq!(reply.ids(), expected[..1]);
}

#[tokio::test]
async fn bad_user_list_parameters_are_a_422_naming_the_parameter() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for (query, field) in [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=abc", "per_page"),
        ("sort=foo", "sort"),
        ("sort=total_cents", "sort"),
        ("sort=password_hash", "sort"),
        ("role=king", "role"),
    ] {
        let reply = app
            .get(&format!("/api/users?{query}"), Some(&admin.token))
            .await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{query}: {}", reply.body);
    }
}

#[tokio::test]
async fn the_user_list_filters_by_q_on_name_or_email_ignoring_case() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app
        .new_user("Ada Lovelace", "ada@analytical.example.com")
        .await;
    let grace = app.new_user("Grace Hopper", "grace@navy.example.com").await;
    let alan = app
        .new_user("Alan Turing", "alan@bletchley.example.com")
        .await;

    for (q, expected) in [
        ("LOVELACE", vec![ada.id]),
        ("hopper", vec![grace.id]),
        // Only in an email.
        ("BLETCH", vec![alan.id]),
        // In one's email and another's name.
        ("An", vec![ada.id, alan.id]),
        ("nobody-has-this", vec![]),
        // Taken literally, not as a LIKE pattern (`%25` is `%`).
        ("%25", vec![]),
        ("_", vec![]),
    ] {
        let reply = app
            .get(&format!("/api/users?q={q}"), Some(&admin.token))
            .await;
        reply.assert_status(200);
        assert_eq!(reply.ids(), expected, "q={q}");
        let total = u64::try_from(expected.len()).unwrap();
        reply.assert_meta(1, 20, total, 1);
    }
}

#[tokio::test]
async fn the_user_list_filters_by_role() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let second_admin = app.admin().await;
    let grace = app.ordinary_user("Grace").await;

    let reply = app.get("/api/users?role=admin", Some(&admin.token)).await;
    reply.assert_status(200);
    assert_eq!(reply.ids(), [admin.id, second_admin.id]);
    reply.assert_meta(1, 20, 2, 1);
    let reply = app.get("/api/users?role=user", Some(&admin.token)).await;
    assert_eq!(reply.ids(), [ada.id, grace.id]);
    let reply = app
        .get("/api/users?role=user&q=GRACE", Some(&admin.token))
        .await;
    assert_eq!(reply.ids(), [grace.id]);
    let reply = app
        .get("/api/users?role=admin&q=grace", Some(&admin.token))
        .await;
    assert!(reply.ids().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Creating
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_admin_creates_a_user_and_gets_its_location() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let reply = app
        .post(
            "/api/users",
            Some(&admin.token),
            json!({"name": "Grace Hopper", "email": "  Grace@Navy.Example.com ", "password": "password-2"}),
        )
        .await;
    reply.assert_status(201);
    let created = &reply.body;
    assert_user_shape(created);
    let id = created["id"].as_i64().unwrap();
    let location = format!("/api/users/{id}");
    assert_eq!(reply.header("location"), Some(location.as_str()));
    assert_eq!(created["name"], "Grace Hopper");
    assert_eq!(created["email"], "grace@navy.example.com");
    assert_eq!(created["role"], "user");
    assert_eq!(&app.user(&admin.token, id).await, created);

    let login = app.login("grace@navy.example.com", "password-2").await;
    login.assert_status(200);
    assert_eq!(login.body["user"]["id"], id);

    let reply = app
        .post(
            "/api/users",
            Some(&admin.token),
            json!({"name": "Root", "email": unique_email("root"), "password": "password-3", "role": "admin"}),
        )
        .await;
    reply.assert_status(201);
    assert_eq!(reply.body["role"], "admin");
    let id = reply.body["id"].as_i64().unwrap();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/users/{id}").as_str())
    );
    let email = reply.body["email"].as_str().unwrap();
    let token = app.login(email, "password-3").await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get("/api/users", Some(&token)).await.assert_status(200);
}

#[tokio::test]
async fn only_an_admin_can_create_users() {
    let app = spawn_app().await;
    let user = app.ordinary_user("Ada").await;
    let email = unique_email("sneaky");
    for body in [
        json!({"name": "Sneaky", "email": email, "password": "password-2"}),
        json!({"name": "Sneaky", "email": email, "password": "password-2", "role": "admin"}),
    ] {
        app.post("/api/users", Some(&user.token), body)
            .await
            .assert_error(403, "forbidden");
    }
    app.login(&email, "password-2")
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn creating_a_user_validates_every_field() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let taken = app.ordinary_user("Ada").await;
    let fresh = unique_email("fresh");
    for (body, fields) in [
        (json!({}), vec!["email", "name", "password"]),
        (
            json!({"name": "Ada", "email": taken.email.to_uppercase(), "password": "password-2"}),
            vec!["email"],
        ),
        (
            json!({"name": "Ada", "email": format!("  {}", taken.email), "password": "password-2"}),
            vec!["email"],
        ),
        (
            json!({"name": "Ada", "email": "not-an-email", "password": "password-2"}),
            vec!["email"],
        ),
        (
            json!({"name": "Ada", "email": fresh, "password": "short"}),
            vec!["password"],
        ),
        (
            json!({"name": "Ada", "email": fresh, "password": "password-2", "role": "king"}),
            vec!["role"],
        ),
        (
            json!({"name": "Ada", "email": fresh, "password": "password-2", "nickname": "ada"}),
            vec!["nickname"],
        ),
    ] {
        let reply = app
            .post("/api/users", Some(&admin.token), body.clone())
            .await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), fields, "{body}: {}", reply.body);
    }
    // Nothing was created along the way.
    let reply = app.get("/api/users", Some(&admin.token)).await;
    assert_eq!(reply.ids(), [admin.id, taken.id]);
}

// ---------------------------------------------------------------------------------------------
// Reading, and other people's accounts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_user_reads_themself_and_an_admin_reads_anyone() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let admin = app.admin().await;

    let mine = app.user(&ada.token, ada.id).await;
    assert_user_shape(&mine);
    assert_eq!(mine, app.get("/api/user", Some(&ada.token)).await.body);
    assert_eq!(mine["id"], ada.id);
    assert_eq!(mine["email"], ada.email.as_str());
    assert_eq!(app.user(&admin.token, ada.id).await, mine);

    let other = app
        .get(&format!("/api/users/{}", admin.id), Some(&ada.token))
        .await;
    other.assert_error(404, "not_found");
    for token in [&ada.token, &admin.token] {
        app.get("/api/users/999999", Some(token))
            .await
            .assert_error(404, "not_found");
        app.get("/api/users/abc", Some(token))
            .await
            .assert_error(400, "invalid_path_parameter");
    }
}

#[tokio::test]
async fn another_user_gets_404_on_every_operation_and_nothing_changes() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let bob = app.ordinary_user("Bob").await;
    let before = app.user(&ada.token, ada.id).await;
    let path = format!("/api/users/{}", ada.id);
    // Bodies that would succeed if Bob were Ada: they even carry her real password.
    let takeover = json!({
        "name": "Bob was here",
        "email": unique_email("bob-took"),
        "password": "taken-over-1",
        "current_password": PASSWORD,
    });

    app.get(&path, Some(&bob.token))
        .await
        .assert_error(404, "not_found");
    app.put(&path, Some(&bob.token), takeover.clone())
        .await
        .assert_error(404, "not_found");
    app.patch(&path, Some(&bob.token), json!({"name": "Bob was here"}))
        .await
        .assert_error(404, "not_found");
    app.patch(&path, Some(&bob.token), takeover)
        .await
        .assert_error(404, "not_found");
    app.delete(&path, Some(&bob.token))
        .await
        .assert_error(404, "not_found");

    assert_eq!(app.user(&ada.token, ada.id).await, before);
    app.login(&ada.email, PASSWORD).await.assert_status(200);
    app.login(&ada.email, "taken-over-1")
        .await
        .assert_error(422, "validation_failed");
}

// ---------------------------------------------------------------------------------------------
// PUT and PATCH
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn put_requires_name_and_email_and_replaces_them() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let path = format!("/api/users/{}", ada.id);
    let before = app.user(&ada.token, ada.id).await;

    app.put(&path, Some(&ada.token), json!({}))
        .await
        .assert_invalid(&["email", "name"]);
    app.put(&path, Some(&ada.token), json!({"name": "Ada King"}))
        .await
        .assert_invalid(&["email"]);
    app.put(&path, Some(&ada.token), json!({"email": ada.email}))
        .await
        .assert_invalid(&["name"]);
    app.put(
        &path,
        Some(&ada.token),
        json!({"name": "Ada King", "email": ada.email, "nickname": "ada"}),
    )
    .await
    .assert_invalid(&["nickname"]);
    assert_eq!(app.user(&ada.token, ada.id).await, before);

    // Her own email, unchanged: no current password needed.
    let reply = app
        .put(
            &path,
            Some(&ada.token),
            json!({"name": "Ada King", "email": ada.email}),
        )
        .await;
    reply.assert_status(200);
    assert_user_shape(&reply.body);
    assert_eq!(reply.body["name"], "Ada King");
    assert_eq!(reply.body["email"], ada.email.as_str());
    assert_eq!(reply.body["id"], ada.id);
    assert_eq!(reply.body["role"], "user");
    assert_eq!(reply.body["created_at"], before["created_at"]);
    assert_eq!(app.user(&ada.token, ada.id).await, reply.body);

    // A new email with the current password.
    let new_email = unique_email("ada-king");
    let reply = app
        .put(
            &path,
            Some(&ada.token),
            json!({"name": "Ada", "email": new_email, "current_password": PASSWORD}),
        )
        .await;
    reply.assert_status(200);
    // Her own new address waits for the link mailed to it (tests/api/email_verification.rs).
    assert_eq!(reply.body["email"], ada.email.as_str());
    assert_eq!(reply.body["pending_email"], new_email.as_str());
    assert_eq!(reply.body["name"], "Ada");
    app.login(&ada.email, PASSWORD).await.assert_status(200);
}

#[tokio::test]
async fn patch_changes_only_the_fields_sent() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let path = format!("/api/users/{}", ada.id);
    let before = app.user(&ada.token, ada.id).await;

    let reply = app
        .patch(&path, Some(&ada.token), json!({"name": "Ada King"}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["name"], "Ada King");
    for field in [
        "id",
        "email",
        "role",
        "email_verified_at",
        "locale",
        "created_at",
    ] {
        assert_eq!(reply.body[field], before[field], "{field}");
    }
    assert_eq!(app.user(&ada.token, ada.id).await, reply.body);
    // The password was not touched either.
    app.login(&ada.email, PASSWORD).await.assert_status(200);

    // The same email again needs no current password and changes nothing.
    let reply = app
        .patch(&path, Some(&ada.token), json!({"email": ada.email}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["email"], ada.email.as_str());
    assert_eq!(reply.body["name"], "Ada King");
}

#[tokio::test]
async fn patch_with_null_on_any_field_is_a_422_and_changes_nothing() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let admin = app.admin().await;
    let path = format!("/api/users/{}", ada.id);
    let before = app.user(&ada.token, ada.id).await;

    for field in ["name", "email", "password", "current_password"] {
        let reply = app
            .patch(&path, Some(&ada.token), json!({ field: null }))
            .await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{}", reply.body);
    }
    // An admin may send a role, but not a null one.
    for field in ["role", "name", "email", "password"] {
        let reply = app
            .patch(&path, Some(&admin.token), json!({ field: null }))
            .await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{}", reply.body);
    }
    assert_eq!(app.user(&ada.token, ada.id).await, before);
    app.login(&ada.email, PASSWORD).await.assert_status(200);
}

#[tokio::test]
async fn an_empty_patch_changes_nothing_and_returns_the_user() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let admin = app.admin().await;
    let path = format!("/api/users/{}", ada.id);
    let before = app.user(&ada.token, ada.id).await;

    for token in [&ada.token, &admin.token] {
        let reply = app.patch(&path, Some(token), json!({})).await;
        reply.assert_status(200);
        assert_eq!(reply.body, before);
    }
    assert_eq!(app.user(&ada.token, ada.id).await, before);
}

#[tokio::test]
async fn patch_validates_the_values_it_is_sent() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let path = format!("/api/users/{}", ada.id);
    let before = app.user(&ada.token, ada.id).await;
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": 7}), "name"),
        (
            json!({"email": "not-an-email", "current_password": PASSWORD}),
            "email",
        ),
        (
            json!({"password": "short", "current_password": PASSWORD}),
            "password",
        ),
        (json!({"nickname": "ada"}), "nickname"),
    ] {
        let reply = app.patch(&path, Some(&ada.token), body.clone()).await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{body}: {}", reply.body);
    }
    assert_eq!(app.user(&ada.token, ada.id).await, before);
}

// ---------------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_non_admin_sending_a_role_is_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let path = format!("/api/users/{}", ada.id);
    let before = app.user(&ada.token, ada.id).await;

    for role in [json!("admin"), json!("user"), json!("king")] {
        let reply = app
            .patch(&path, Some(&ada.token), json!({"role": role}))
            .await;
        reply.assert_invalid(&["role"]);
        let reply = app
            .patch(
                &path,
                Some(&ada.token),
                json!({"name": "Ada Admin", "role": role}),
            )
            .await;
        reply.assert_invalid(&["role"]);
        let reply = app
            .put(
                &path,
                Some(&ada.token),
                json!({"name": "Ada Admin", "email": ada.email, "role": role}),
            )
            .await;
        reply.assert_invalid(&["role"]);
    }
    let after = app.user(&ada.token, ada.id).await;
    assert_eq!(after, before);
    assert_eq!(after["role"], "user");
    app.get("/api/users", Some(&ada.token))
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn an_admin_sets_a_role_and_it_applies_at_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let path = format!("/api/users/{}", ada.id);

    let reply = app
        .patch(&path, Some(&admin.token), json!({"role": "admin"}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["role"], "admin");
    assert_eq!(reply.body["name"], "Ada");
    // Her existing token now carries the role.
    app.get("/api/users", Some(&ada.token))
        .await
        .assert_status(200);

    let reply = app
        .put(
            &path,
            Some(&admin.token),
            json!({"name": "Ada", "email": ada.email, "role": "user"}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["role"], "user");
    app.get("/api/users", Some(&ada.token))
        .await
        .assert_error(403, "forbidden");

    app.patch(&path, Some(&admin.token), json!({"role": "king"}))
        .await
        .assert_invalid(&["role"]);
    assert_eq!(app.user(&ada.token, ada.id).await["role"], "user");
}

// ---------------------------------------------------------------------------------------------
// Email, password and current_password
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn changing_ones_own_email_requires_the_current_password() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let path = format!("/api/users/{}", ada.id);
    let before = app.user(&ada.token, ada.id).await;
    let new_email = unique_email("ada-new");

    for body in [
        json!({"email": new_email}),
        json!({"email": new_email, "current_password": "wrong-password"}),
    ] {
        app.patch(&path, Some(&ada.token), body)
            .await
            .assert_invalid(&["current_password"]);
    }
    for body in [
        json!({"name": "Ada", "email": new_email}),
        json!({"name": "Ada", "email": new_email, "current_password": "wrong-password"}),
    ] {
        app.put(&path, Some(&ada.token), body)
            .await
            .assert_invalid(&["current_password"]);
    }
    assert_eq!(app.user(&ada.token, ada.id).await, before);

    let reply = app
        .patch(
            &path,
            Some(&ada.token),
            json!({"email": new_email, "current_password": PASSWORD}),
        )
        .await;
    reply.assert_status(200);
    // The change waits for the new address to confirm it (tests/api/email_verification.rs).
    assert_eq!(reply.body["email"], ada.email.as_str());
    assert_eq!(reply.body["pending_email"], new_email.as_str());
    app.login(&ada.email, PASSWORD).await.assert_status(200);
    app.login(&new_email, PASSWORD)
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn changing_ones_own_password_requires_the_current_password() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let path = format!("/api/users/{}", ada.id);

    for body in [
        json!({"password": "password-2"}),
        json!({"password": "password-2", "current_password": "wrong-password"}),
    ] {
        app.patch(&path, Some(&ada.token), body)
            .await
            .assert_invalid(&["current_password"]);
    }
    app.put(
        &path,
        Some(&ada.token),
        json!({"name": "Ada", "email": ada.email, "password": "password-2"}),
    )
    .await
    .assert_invalid(&["current_password"]);
    app.login(&ada.email, "password-2")
        .await
        .assert_error(422, "validation_failed");
    app.login(&ada.email, PASSWORD).await.assert_status(200);

    let reply = app
        .patch(
            &path,
            Some(&ada.token),
            json!({"password": "password-2", "current_password": PASSWORD}),
        )
        .await;
    reply.assert_status(200);
    assert_user_shape(&reply.body);
    app.login(&ada.email, "password-2").await.assert_status(200);
    app.login(&ada.email, PASSWORD)
        .await
        .assert_error(422, "validation_failed");
}

#[tokio::test]
async fn an_admin_changing_their_own_email_or_password_also_needs_the_current_one() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let path = format!("/api/users/{}", admin.id);
    app.patch(
        &path,
        Some(&admin.token),
        json!({"email": unique_email("boss")}),
    )
    .await
    .assert_invalid(&["current_password"]);
    app.patch(&path, Some(&admin.token), json!({"password": "password-2"}))
        .await
        .assert_invalid(&["current_password"]);
    app.login(&admin.email, PASSWORD).await.assert_status(200);
}

#[tokio::test]
async fn an_admin_changes_another_users_email_and_password_without_theirs() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let new_email = unique_email("ada-moved");

    let reply = app
        .patch(
            &format!("/api/users/{}", ada.id),
            Some(&admin.token),
            json!({"email": new_email, "password": "password-2"}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["email"], new_email.as_str());
    app.login(&new_email, "password-2").await.assert_status(200);
    app.login(&ada.email, PASSWORD)
        .await
        .assert_error(422, "validation_failed");

    let newer_email = unique_email("ada-again");
    let reply = app
        .put(
            &format!("/api/users/{}", ada.id),
            Some(&admin.token),
            json!({"name": "Ada L.", "email": newer_email, "password": "password-3"}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["name"], "Ada L.");
    assert_eq!(reply.body["email"], newer_email.as_str());
    app.login(&newer_email, "password-3")
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_password_change_revokes_the_other_sessions_but_not_the_current_one() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let other_session = app.login(&ada.email, PASSWORD).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get("/api/user", Some(&other_session))
        .await
        .assert_status(200);

    app.patch(
        &format!("/api/users/{}", ada.id),
        Some(&ada.token),
        json!({"password": "password-2", "current_password": PASSWORD}),
    )
    .await
    .assert_status(200);

    app.get("/api/user", Some(&ada.token))
        .await
        .assert_status(200);
    app.get(&format!("/api/users/{}", ada.id), Some(&ada.token))
        .await
        .assert_status(200);
    app.get("/api/user", Some(&other_session))
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn an_admin_changing_a_password_revokes_every_session_of_that_user() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let other_session = app.login(&ada.email, PASSWORD).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    app.patch(
        &format!("/api/users/{}", ada.id),
        Some(&admin.token),
        json!({"password": "password-2"}),
    )
    .await
    .assert_status(200);

    for token in [&ada.token, &other_session] {
        app.get("/api/user", Some(token))
            .await
            .assert_error(401, "unauthenticated");
    }
    app.get("/api/user", Some(&admin.token))
        .await
        .assert_status(200);
    app.login(&ada.email, "password-2").await.assert_status(200);
}

#[tokio::test]
async fn an_email_stays_unique_whatever_its_case_on_put_and_patch() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let bob = app.ordinary_user("Bob").await;
    let path = format!("/api/users/{}", ada.id);
    let before = app.user(&ada.token, ada.id).await;
    let taken = bob.email.to_uppercase();

    app.patch(
        &path,
        Some(&ada.token),
        json!({"email": taken, "current_password": PASSWORD}),
    )
    .await
    .assert_invalid(&["email"]);
    app.put(
        &path,
        Some(&ada.token),
        json!({"name": "Ada", "email": format!(" {taken} "), "current_password": PASSWORD}),
    )
    .await
    .assert_invalid(&["email"]);
    app.patch(&path, Some(&admin.token), json!({"email": taken}))
        .await
        .assert_invalid(&["email"]);
    app.put(
        &path,
        Some(&admin.token),
        json!({"name": "Ada", "email": taken}),
    )
    .await
    .assert_invalid(&["email"]);

    assert_eq!(app.user(&ada.token, ada.id).await, before);
    let reply = app
        .get(&format!("/api/users?q={}", bob.email), Some(&admin.token))
        .await;
    assert_eq!(reply.ids(), [bob.id]);
}

// ---------------------------------------------------------------------------------------------
// Deleting
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_user_deletes_themself_and_their_tokens_stop_working() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let other_session = app.login(&ada.email, PASSWORD).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let reply = app
        .delete(&format!("/api/users/{}", ada.id), Some(&ada.token))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(reply.body, Value::Null, "a 204 has an empty body");

    for token in [&ada.token, &other_session] {
        app.get("/api/user", Some(token))
            .await
            .assert_error(401, "unauthenticated");
    }
    app.login(&ada.email, PASSWORD)
        .await
        .assert_error(422, "validation_failed");
    app.get(&format!("/api/users/{}", ada.id), Some(&admin.token))
        .await
        .assert_error(404, "not_found");
    assert_eq!(
        app.get("/api/users", Some(&admin.token)).await.ids(),
        [admin.id]
    );
}

#[tokio::test]
async fn an_admin_deletes_a_user_whose_tokens_stop_working_at_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let path = format!("/api/users/{}", ada.id);

    let reply = app.delete(&path, Some(&admin.token)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(reply.body, Value::Null);
    app.get("/api/user", Some(&ada.token))
        .await
        .assert_error(401, "unauthenticated");
    app.get(&path, Some(&admin.token))
        .await
        .assert_error(404, "not_found");
    app.delete(&path, Some(&admin.token))
        .await
        .assert_error(404, "not_found");
    app.delete("/api/users/abc", Some(&admin.token))
        .await
        .assert_error(400, "invalid_path_parameter");
    // The email is free again.
    app.new_user("Ada again", &ada.email).await;
}

#[tokio::test]
async fn a_user_who_has_orders_cannot_be_deleted() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.ordinary_user("Ada").await;
    let order = app
        .create_order(&ada.token, json!([item("Tea", 1, 450)]))
        .await;
    let order_id = order["id"].as_i64().unwrap();
    let path = format!("/api/users/{}", ada.id);
    let before = app.user(&ada.token, ada.id).await;

    for token in [&ada.token, &admin.token] {
        app.delete(&path, Some(token))
            .await
            .assert_error(409, "user_has_orders");
    }
    assert_eq!(app.user(&ada.token, ada.id).await, before);
    assert_eq!(app.order(&ada.token, order_id).await, order);
    app.login(&ada.email, PASSWORD).await.assert_status(200);

    // Once the order is gone, so can she be.
    let reply = app
        .delete(&format!("/api/orders/{order_id}"), Some(&ada.token))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let reply = app.delete(&path, Some(&ada.token)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
}

/// Rows of `table` that belong to `user_id`, read straight from the database.
async fn rows_of(app: &TestApp, table: &str, user_id: i64) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.db().await;
    let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE user_id = {user_id}");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn a_deleted_users_sessions_reset_and_confirmation_tokens_go_with_them() {
    let app = spawn_app().await;
    let email = unique_email("leaving");
    let token = app.register("Ada", &email, "password-1").await;
    app.login(&email, "password-1").await;
    let id = app.get("/api/user", Some(&token)).await.body["id"]
        .as_i64()
        .unwrap();
    app.post("/api/forgot-password", None, json!({"email": email}))
        .await;
    for _ in 0..100 {
        if rows_of(&app, "password_reset_tokens", id).await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(rows_of(&app, "password_reset_tokens", id).await, 1);
    // Registration issued the link that confirms the address.
    assert_eq!(rows_of(&app, "email_verification_tokens", id).await, 1);
    assert_eq!(rows_of(&app, "sessions", id).await, 2);

    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/users/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(rows_of(&app, "sessions", id).await, 0);
    assert_eq!(rows_of(&app, "password_reset_tokens", id).await, 0);
    assert_eq!(rows_of(&app, "email_verification_tokens", id).await, 0);
}
