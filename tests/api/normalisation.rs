//! One mailbox, one account: addresses are compared in one normal form (NFKC, IDNA's ASCII
//! domain), however they are typed. Names and product names refuse the characters that
//! change how the text around them reads.

use serde_json::json;

use crate::{
    helpers::{PASSWORD, item, spawn_app},
    smtp::SmtpSink,
};

#[tokio::test]
async fn an_address_in_fullwidth_letters_is_the_account_already_registered() {
    let app = spawn_app().await;
    app.new_user("Ada", "ada@example.com").await;

    app.post(
        "/api/register",
        None,
        json!({"name": "Ada", "email": "ａｄａ@example.com", "password": PASSWORD}),
    )
    .await
    .assert_invalid(&["email"]);
    let login = app.login("ＡＤＡ@ＥＸＡＭＰＬＥ.com", PASSWORD).await;
    login.assert_status(200);
    assert_eq!(login.body["user"]["email"], "ada@example.com");
}

#[tokio::test]
async fn an_international_domain_and_its_punycode_are_one_account() {
    let app = spawn_app().await;
    let x = app.new_user("X", "x@bücher.example").await;
    assert_eq!(x.email, "x@xn--bcher-kva.example");

    app.post(
        "/api/register",
        None,
        json!({"name": "X", "email": "x@xn--bcher-kva.example", "password": PASSWORD}),
    )
    .await
    .assert_invalid(&["email"]);
    for spelling in ["x@xn--bcher-kva.example", "X@BÜCHER.example"] {
        let login = app.login(spelling, PASSWORD).await;
        login.assert_status(200);
        assert_eq!(login.body["user"]["id"], x.id, "{spelling}");
    }
}

#[tokio::test]
async fn an_admin_cannot_create_a_second_account_for_another_spelling() {
    let app = spawn_app().await;
    let (_, admin) = app.admin_token().await;
    app.new_user("X", "x@xn--bcher-kva.example").await;
    let other = app.ordinary_user("Other").await;

    app.post(
        "/api/users",
        Some(&admin),
        json!({"name": "X", "email": "x@BÜCHER.example", "password": PASSWORD}),
    )
    .await
    .assert_invalid(&["email"]);
    app.patch(
        &format!("/api/users/{}", other.id),
        Some(&admin),
        json!({"email": "ｘ@bücher.example"}),
    )
    .await
    .assert_invalid(&["email"]);
}

#[tokio::test]
async fn a_reset_link_asked_for_with_the_unicode_domain_reaches_the_account() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = crate::helpers::spawn_app_with(&[("SMTP_URL", url.as_str())]).await;
    app.new_user("X", "x@xn--bcher-kva.example").await;

    app.post(
        "/api/forgot-password",
        None,
        json!({"email": "x@bücher.example"}),
    )
    .await
    .assert_status(200);
    let mail = sink.wait_for(1).await.remove(0);
    assert_eq!(mail.recipients, ["x@xn--bcher-kva.example"]);
}

#[tokio::test]
async fn names_with_direction_controls_or_line_separators_are_refused() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    for name in [
        "Ada\u{202E}ecalevoL",
        "Ada\u{2028}Lovelace",
        "\u{2066}Ada\u{2069}",
    ] {
        app.post(
            "/api/register",
            None,
            json!({"name": name, "email": "new@example.com", "password": PASSWORD}),
        )
        .await
        .assert_invalid(&["name"]);
        app.patch(
            &format!("/api/users/{}", ada.id),
            Some(&ada.token),
            json!({"name": name}),
        )
        .await
        .assert_invalid(&["name"]);
    }
}

#[tokio::test]
async fn product_names_with_direction_controls_or_line_separators_are_refused() {
    let app = spawn_app().await;
    let ada = app.ordinary_user("Ada").await;
    let reply = app
        .post(
            "/api/orders",
            Some(&ada.token),
            json!({"items": [item("Tea\u{202E}aet", 1, 100), item("Tea\u{2029}Tea", 1, 100)]}),
        )
        .await;
    reply.assert_invalid(&["items.0.product", "items.1.product"]);
}
