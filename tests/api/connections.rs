//! Connections: the cap, the header-read and keep-alive timeouts, the open-file limit, errors
//! from below the router, and shutdown.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use comptoir::startup::Application;
use reqwest::Method;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::{Instant, timeout},
};

use crate::helpers::{TestDatabase, spawn_app_with, test_config};

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: comptoir\r\n\r\n";
const PARTIAL: &[u8] = b"GET /health HTTP/1.1\r\nHost: comptoir\r\n";

fn host(address: &str) -> &str {
    address.trim_start_matches("http://")
}

/// Reads one response to `GET /health` and returns its head.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let read = timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("a response within 10 s")
            .unwrap();
        assert!(read > 0, "closed before the response was complete");
        seen.extend_from_slice(&buf[..read]);
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|n| n.trim().parse().unwrap())
                })
                .expect("a content-length");
            if body.len() >= length {
                return head.to_owned();
            }
        }
    }
}

/// Waits at most `within` for the server to close the connection.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0; 1024];
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[test]
fn an_honest_client_is_served_while_more_idle_sockets_than_file_descriptors_wait() {
    let dir = tempfile::tempdir().unwrap();
    // 256 files at most, soft and hard: 300 silent sockets would use them all up.
    let mut child = Command::new("sh")
        .args([
            "-c",
            "ulimit -n 256 && exec \"$0\"",
            env!("CARGO_BIN_EXE_comptoir"),
        ])
        .current_dir(dir.path())
        .env_clear()
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("BCRYPT_COST", "4")
        .env("HTTP_HEADER_READ_TIMEOUT_SECS", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut start_up = Vec::new();
    let address = loop {
        let line = lines.next().expect("the server starts").unwrap();
        start_up.push(line.clone());
        if let Some(start) = line.find("http://") {
            let rest = &line[start + "http://".len()..];
            break rest[..rest.find('/').unwrap()].to_owned();
        }
    };
    // Keep reading its log so that it never blocks on a full pipe.
    let log = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let served = runtime.block_on(async {
        let mut silent = Vec::new();
        for _ in 0..300 {
            silent.push(TcpStream::connect(&address).await.unwrap());
        }
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let reply = client
            .get(format!("http://{address}/health"))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        drop(silent);
        reply.map(|reply| reply.status())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    start_up.extend(log.join().unwrap());
    let log = start_up.join("\n");
    let status = served.unwrap_or_else(|err| panic!("not served: {err}\n{log}"));
    assert_eq!(status, 200, "{log}");
    assert!(log.contains("HTTP_MAX_CONNECTIONS lowered"), "{log}");
}

#[tokio::test]
async fn silent_and_half_sent_requests_are_closed_after_the_header_read_timeout() {
    let app = spawn_app_with(&[
        ("HTTP_HEADER_READ_TIMEOUT_SECS", "1"),
        ("HTTP_KEEP_ALIVE_TIMEOUT_SECS", "60"),
    ])
    .await;
    let address = host(&app.address);
    let mut silent = TcpStream::connect(address).await.unwrap();
    let mut partial = TcpStream::connect(address).await.unwrap();
    partial.write_all(PARTIAL).await.unwrap();
    // A kept-alive connection whose next request stops half-way gets the header timeout, not
    // the keep-alive one.
    let mut kept = TcpStream::connect(address).await.unwrap();
    kept.write_all(HEALTH).await.unwrap();
    assert!(read_response(&mut kept).await.starts_with("HTTP/1.1 200"));
    kept.write_all(PARTIAL).await.unwrap();

    for (name, stream) in [
        ("silent", &mut silent),
        ("partial", &mut partial),
        ("kept alive", &mut kept),
    ] {
        assert!(
            closed_within(stream, Duration::from_secs(5)).await,
            "the {name} connection is still open"
        );
    }
}

#[tokio::test]
async fn a_kept_alive_connection_outlives_the_header_timeout_and_closes_after_its_own() {
    let app = spawn_app_with(&[
        ("HTTP_HEADER_READ_TIMEOUT_SECS", "1"),
        ("HTTP_KEEP_ALIVE_TIMEOUT_SECS", "3"),
    ])
    .await;
    let mut stream = TcpStream::connect(host(&app.address)).await.unwrap();
    stream.write_all(HEALTH).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));

    // Idle for longer than the header timeout: still open, and answered.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stream.write_all(HEALTH).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));

    assert!(
        closed_within(&mut stream, Duration::from_secs(8)).await,
        "the idle connection is still open"
    );
}

#[tokio::test]
async fn the_soft_open_file_limit_is_raised_to_the_hard_limit_at_start() {
    let Rlimit {
        current: Some(soft),
        maximum: Some(hard),
    } = getrlimit(Resource::Nofile)
    else {
        return;
    };
    // As a service manager might start it: a soft limit below the hard one.
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(soft.min(hard / 2).max(512)),
            maximum: Some(hard),
        },
    )
    .unwrap();

    let _app = spawn_app_with(&[]).await;
    assert_eq!(getrlimit(Resource::Nofile).current, Some(hard));
}

#[tokio::test]
async fn headers_over_32_kib_get_the_json_431_and_too_many_get_hypers_own() {
    let app = spawn_app_with(&[]).await;
    let mut request = app.request(Method::GET, "/health");
    for n in 0..40 {
        request = request.header(format!("x-header-{n}"), "y".repeat(1_000));
    }
    let reply = app.send(request).await;
    reply.assert_error(431, "headers_too_large");
    assert!(reply.headers.contains_key("x-request-id"));

    // More than 100: hyper's bare 431, as the README says.
    let mut request = app.request(Method::GET, "/health");
    for n in 0..150 {
        request = request.header(format!("x-header-{n}"), "y");
    }
    let reply = app.send(request).await;
    assert_eq!(reply.status.as_u16(), 431);
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish_and_closes_idle_connections() {
    let database = TestDatabase::create().await;
    let app = Application::build(&test_config(&database.url, &[]))
        .await
        .unwrap();
    let address = app.address();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(HEALTH).await.unwrap();
    read_response(&mut idle).await;

    // A body that trickles in for about 1.5 s.
    let trickle = futures_util::stream::unfold(0, |sent| async move {
        if sent >= 5 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some((Ok::<_, std::io::Error>(vec![b' ']), sent + 1))
    });
    let in_flight = tokio::spawn(
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("http://{address}/api/login"))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(trickle))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();

    assert!(
        closed_within(&mut idle, Duration::from_secs(1)).await,
        "the idle connection is still open"
    );
    let reply = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert!(reply.status().is_client_error(), "{}", reply.status());
    timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops once the request is answered")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(address).await.is_err(),
        "still listening"
    );
}
