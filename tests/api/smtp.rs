//! A real SMTP server inside the test process: the app sends to it through lettre's SMTP
//! transport, and tests read what arrived.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub recipients: Vec<String>,
    pub raw: String,
}

impl ReceivedMail {
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_lowercase());
        self.raw
            .lines()
            .take_while(|line| !line.is_empty())
            .find(|line| line.to_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim().to_owned())
    }

    /// The decoded body of the first part of this content type (`text/plain`, `text/html`).
    pub fn part(&self, content_type: &str) -> Option<String> {
        let start = self.raw.find(&format!("Content-Type: {content_type}"))?;
        let part = &self.raw[start..];
        let (headers, rest) = part.split_once("\r\n\r\n")?;
        let body = rest.split("\r\n--").next()?;
        let encoding = headers
            .lines()
            .find_map(|line| line.strip_prefix("Content-Transfer-Encoding: "))
            .unwrap_or("7bit")
            .trim();
        Some(match encoding {
            "base64" => {
                let compact: String = body.split_whitespace().collect();
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(compact)
                        .unwrap(),
                )
                .unwrap()
            }
            "quoted-printable" => decode_quoted_printable(body),
            _ => body.to_owned(),
        })
    }

    /// The first link in the text part.
    pub fn link(&self) -> String {
        let text = self.part("text/plain").expect("a text part");
        let start = text.find("http").expect("a link in the mail");
        text[start..].split_whitespace().next().unwrap().to_owned()
    }
}

fn decode_quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'=' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    /// Whether `received` shows the confirmation mails of email verification.
    with_confirmations: bool,
}

impl ReceivedMail {
    /// Whether this is a mail of email verification: a link to `/verify-email`.
    pub fn is_confirmation(&self) -> bool {
        self.part("text/plain")
            .is_some_and(|text| text.contains("/verify-email?token="))
    }
}

impl SmtpSink {
    /// A server that takes 8-bit mail (8BITMIME), as every common one does. It leaves out the
    /// confirmation link every new account is mailed, so that a test of another mail counts
    /// only that mail; [`Self::start_with_confirmations`] keeps them.
    pub async fn start() -> Self {
        Self::start_with(true).await
    }

    /// Every mail, the confirmation links of email verification included.
    pub async fn start_with_confirmations() -> Self {
        Self {
            with_confirmations: true,
            ..Self::start_with(true).await
        }
    }

    /// An old-fashioned server that takes 7-bit mail only.
    pub async fn start_seven_bit() -> Self {
        Self::start_with(false).await
    }

    async fn start_with(eight_bit: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, store.clone(), eight_bit));
            }
        });
        Self {
            port,
            mails,
            with_confirmations: false,
        }
    }

    /// The URL to give the app as `SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        let mails = self.mails.lock().unwrap().clone();
        mails
            .into_iter()
            .filter(|mail| self.with_confirmations || !mail.is_confirmation())
            .collect()
    }

    /// Waits (up to 5 s) until `count` mails have arrived, and returns them.
    pub async fn wait_for(&self, count: usize) -> Vec<ReceivedMail> {
        for _ in 0..100 {
            let mails = self.received();
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {count} mails, got {:?}", self.received());
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    eight_bit: bool,
) {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    let mut recipients = Vec::new();
    if writer.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        let command = line.to_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") && eight_bit {
            b"250-sink\r\n250 8BITMIME\r\n"
        } else if command.starts_with("EHLO") || command.starts_with("HELO") {
            b"250 sink\r\n"
        } else if command.starts_with("RCPT TO:") {
            recipients.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
            b"250 OK\r\n"
        } else if command.starts_with("MAIL FROM:")
            || command.starts_with("RSET")
            || command.starts_with("NOOP")
        {
            if command.starts_with("RSET") {
                recipients.clear();
            }
            b"250 OK\r\n"
        } else if command.starts_with("DATA") {
            if writer
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await
                .is_err()
            {
                return;
            }
            let mut raw = String::new();
            while let Ok(Some(data)) = lines.next_line().await {
                if data == "." {
                    break;
                }
                raw.push_str(
                    data.strip_prefix('.')
                        .filter(|_| data.starts_with(".."))
                        .unwrap_or(&data),
                );
                raw.push_str("\r\n");
            }
            mails.lock().unwrap().push(ReceivedMail {
                recipients: std::mem::take(&mut recipients),
                raw,
            });
            b"250 OK queued\r\n"
        } else if command.starts_with("QUIT") {
            let _ = writer.write_all(b"221 Bye\r\n").await;
            return;
        } else {
            b"502 Command not implemented\r\n"
        };
        if writer.write_all(reply).await.is_err() {
            return;
        }
    }
}
