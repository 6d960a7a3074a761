//! `cargo run -p twofa-demo`: serves the demo on 127.0.0.1 and prints the address and the
//! demo account's password.
//!
//! Options: `--addr HOST:PORT` (default `127.0.0.1:3000`), `--secure-cookies` (when served
//! behind HTTPS), `--key-file PATH` (the sealing key of the 2FA secrets and the key of the
//! trusted-device tokens, default `twofa-demo.key`, made on first run), `--database PATH`
//! (the SQLite file of the 2FA records, default `twofa-demo.db`, made on first run) or
//! `--database-url postgres://…` (a PostgreSQL database instead).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use twofa::Store;
use twofa::account::DeviceKey;
use twofa::store::{Clock, SystemClock};
use twofa_demo::{AppState, Config, app, two_factor};
use zeroize::Zeroizing;

const USAGE: &str = "usage: twofa-demo [--addr HOST:PORT] [--secure-cookies] [--key-file PATH] \
                     [--database PATH | --database-url postgres://…]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:3000");
    let mut key_file = PathBuf::from("twofa-demo.key");
    let mut database = PathBuf::from("twofa-demo.db");
    let mut database_url = None;
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or(USAGE)?,
            "--key-file" => key_file = args.next().ok_or(USAGE)?.into(),
            "--secure-cookies" => config.secure_cookies = true,
            "--database" => database = args.next().ok_or(USAGE)?.into(),
            "--database-url" => database_url = Some(args.next().ok_or(USAGE)?),
            _ => return Err(USAGE.into()),
        }
    }

    let keys = keys(&key_file)?;
    match database_url {
        Some(url) => {
            let store = twofa_sqlx::PostgresStore::connect(&url).await?;
            println!("2FA records in PostgreSQL");
            serve(store, keys, &addr, config).await
        }
        None => {
            let store = twofa_sqlx::SqliteStore::open(&database).await?;
            println!("2FA records in {}", database.display());
            serve(store, keys, &addr, config).await
        }
    }
}

/// The app's two keys: the one that seals the 2FA secrets and the one that keys the
/// trusted-device tokens.
struct Keys {
    sealing: Zeroizing<Vec<u8>>,
    device: DeviceKey,
}

/// Serves the app over `store` until Ctrl-C.
async fn serve<S: Store + 'static>(
    store: S,
    keys: Keys,
    addr: &str,
    config: Config,
) -> Result<(), Box<dyn std::error::Error>> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tf = two_factor(
        store,
        "twofa demo",
        &keys.sealing,
        keys.device,
        clock.clone(),
    )?;
    let state = Arc::new(AppState::new(tf, clock, config));

    let password = demo_password()?;
    state.accounts.create("demo@example.com", &password)?;

    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("twofa demo on http://{local}/");
    println!("sign in as demo@example.com with password {password}");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// The keys, read from `path` (two lines of hex: the sealing key, then the device key) or
/// made there on first run (readable by the owner only). Keep them out of the database and its
/// backups: with them, a copy of the database gives up every secret.
fn keys(path: &Path) -> Result<Keys, Box<dyn std::error::Error>> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let text = Zeroizing::new(text);
        let mut lines = text.lines().map(|line| {
            data_encoding::HEXLOWER
                .decode(line.trim().as_bytes())
                .map(Zeroizing::new)
        });
        let (Some(sealing), Some(device)) = (lines.next(), lines.next()) else {
            return Err(format!("{}: expected two lines of hex", path.display()).into());
        };
        return Ok(Keys {
            sealing: sealing?,
            device: DeviceKey::from_bytes(&device?)?,
        });
    }
    let sealing = twofa::AesGcmSealer::generate_key()?;
    let device = DeviceKey::generate();
    let text = Zeroizing::new(format!(
        "{}\n{}\n",
        data_encoding::HEXLOWER.encode(&*sealing),
        data_encoding::HEXLOWER.encode(device.as_bytes())
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, text.as_bytes())?;
    println!("made new keys in {}", path.display());
    Ok(Keys {
        sealing: Zeroizing::new(sealing.to_vec()),
        device,
    })
}

/// A fresh random password for the demo account, printed at start-up.
fn demo_password() -> Result<String, Box<dyn std::error::Error>> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)?;
    Ok(data_encoding::BASE32_NOPAD.encode(&bytes).to_lowercase())
}
