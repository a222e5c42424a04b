//! A minimal Redis client: just enough RESP to run the rate limiter's script and delete a key,
//! over one connection that is opened again when it breaks. The limiter needs two commands; a
//! full client library would be most of the build for them.

use std::{io, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufStream},
    net::TcpStream,
    sync::Mutex,
};

/// A reply, as far as this client needs to read one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

pub struct Redis {
    address: String,
    password: Option<String>,
    database: Option<u32>,
    timeout: Duration,
    connection: Mutex<Option<BufStream<TcpStream>>>,
}

impl Redis {
    /// `redis://[:password@]host[:port][/db]`.
    pub fn from_url(url: &str, timeout: Duration) -> Result<Self, String> {
        let rest = url.strip_prefix("redis://").ok_or("not a redis:// URL")?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (password, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let password = userinfo
                    .split_once(':')
                    .map_or(userinfo, |(_, password)| password);
                (
                    Some(password.to_owned()).filter(|password| !password.is_empty()),
                    host,
                )
            }
            None => (None, authority),
        };
        let address = if host.is_empty() {
            "127.0.0.1:6379".to_owned()
        } else if host.contains(':') {
            host.to_owned()
        } else {
            format!("{host}:6379")
        };
        let database = match path {
            "" => None,
            db => Some(
                db.parse()
                    .map_err(|_| format!("`{db}` is not a database number"))?,
            ),
        };
        Ok(Self {
            address,
            password,
            database,
            timeout,
            connection: Mutex::new(None),
        })
    }

    /// Sends one command and reads its reply, within the timeout. Any failure drops the
    /// connection, so the next command starts afresh.
    pub async fn command(&self, args: &[&[u8]]) -> io::Result<Reply> {
        let mut slot = self.connection.lock().await;
        let result = tokio::time::timeout(self.timeout, async {
            if slot.is_none() {
                *slot = Some(self.connect().await?);
            }
            let connection = slot
                .as_mut()
                .ok_or_else(|| io::Error::other("no connection"))?;
            send(connection, args).await?;
            read_reply(connection).await
        })
        .await
        .unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "Redis did not answer in time",
            ))
        });
        if result.is_err() {
            *slot = None;
        }
        result
    }

    async fn connect(&self) -> io::Result<BufStream<TcpStream>> {
        let stream = TcpStream::connect(&self.address).await?;
        stream.set_nodelay(true)?;
        let mut connection = BufStream::new(stream);
        if let Some(password) = &self.password {
            send(&mut connection, &[b"AUTH", password.as_bytes()]).await?;
            read_reply(&mut connection).await?;
        }
        if let Some(database) = self.database {
            send(
                &mut connection,
                &[b"SELECT", database.to_string().as_bytes()],
            )
            .await?;
            read_reply(&mut connection).await?;
        }
        Ok(connection)
    }
}

async fn send(connection: &mut BufStream<TcpStream>, args: &[&[u8]]) -> io::Result<()> {
    let mut frame = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        frame.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        frame.extend_from_slice(arg);
        frame.extend_from_slice(b"\r\n");
    }
    connection.write_all(&frame).await?;
    connection.flush().await
}

async fn read_reply(connection: &mut BufStream<TcpStream>) -> io::Result<Reply> {
    // Arrays nest; walk them with an explicit stack rather than recursion in an async fn.
    let mut stack: Vec<(usize, Vec<Reply>)> = Vec::new();
    loop {
        let mut line = String::new();
        if connection.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "Redis closed the connection",
            ));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let (kind, body) = line.split_at(line.len().min(1));
        let number = || {
            body.parse::<i64>()
                .map_err(|_| io::Error::other(format!("bad reply `{line}`")))
        };
        let reply = match kind {
            "+" => Reply::Status(body.to_owned()),
            "-" => return Err(io::Error::other(format!("Redis error: {body}"))),
            ":" => Reply::Integer(number()?),
            "$" => match usize::try_from(number()?) {
                Ok(length) => {
                    let mut data = vec![0; length + 2];
                    tokio::io::AsyncReadExt::read_exact(connection, &mut data).await?;
                    data.truncate(length);
                    Reply::Bulk(Some(data))
                }
                Err(_) => Reply::Bulk(None),
            },
            "*" => {
                let length = usize::try_from(number()?).unwrap_or(0);
                if length > 0 {
                    stack.push((length, Vec::with_capacity(length)));
                    continue;
                }
                Reply::Array(Vec::new())
            }
            _ => return Err(io::Error::other(format!("bad reply `{line}`"))),
        };
        let mut reply = reply;
        loop {
            let Some((expected, items)) = stack.last_mut() else {
                return Ok(reply);
            };
            items.push(reply);
            if items.len() < *expected {
                break;
            }
            let (_, items) = stack.pop().unwrap_or_default();
            reply = Reply::Array(items);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_address_password_and_database() {
        let redis = Redis::from_url(
            "redis://:s3cret@cache.internal:6380/2",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(redis.address, "cache.internal:6380");
        assert_eq!(redis.password.as_deref(), Some("s3cret"));
        assert_eq!(redis.database, Some(2));
        let plain = Redis::from_url("redis://127.0.0.1", Duration::from_secs(1)).unwrap();
        assert_eq!(plain.address, "127.0.0.1:6379");
        assert_eq!(plain.password, None);
    }
}
