//! `cargo run -p twofa-demo`: serves the demo and prints the address and the demo account's
//! password. See `USAGE` for the options.

use std::net::SocketAddr;
use std::path::PathBuf;

use twofa::Store;
use twofa_axum::storage::Storage;
use twofa_demo::{Demo, Keys, Setup, open_postgres, open_sqlite};

const USAGE: &str = "\
usage: twofa-demo [options]

  --addr HOST:PORT       where to listen (default 127.0.0.1:3000; port 0 picks a free one)
  --database PATH        the SQLite database: users, sessions, 2FA records (default twofa-demo.db)
  --database-url URL     a PostgreSQL database instead (postgres://…)
  --key-file PATH        the keys, kept apart from the database (default
                         $XDG_CONFIG_HOME/twofa-demo/keys or ~/.config/twofa-demo/keys;
                         made on first run, mode 0600; refused if others can read it)
  --secure-cookies       served over HTTPS: Secure __Host- cookies and HSTS
  --public-origin URL    the address people use (default http://HOST:PORT, or https://… with
                         --secure-cookies)
  -h, --help             this text";

/// The demo account: its id stays, so its 2FA settings survive restarts.
const DEMO_ID: &str = "demo";
const DEMO_EMAIL: &str = "demo@example.com";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return Ok(());
        }
        Err(e) => {
            eprintln!("twofa-demo: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let key_file = match options
        .key_file
        .clone()
        .or_else(twofa_demo::keys::default_path)
    {
        Some(path) => path,
        None => return Err("no home directory for the keys: pass --key-file PATH".into()),
    };
    let (keys, made) = Keys::load_or_create(&key_file)?;
    if made {
        println!("made new keys in {}", key_file.display());
    }
    let listener = tokio::net::TcpListener::bind(&options.addr).await?;
    let local = listener.local_addr()?;
    let origin = options.public_origin.clone().unwrap_or_else(|| {
        let scheme = if options.secure_cookies {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{local}")
    });
    let setup = Setup::new(keys, &origin, options.secure_cookies);
    match &options.database_url {
        Some(url) => {
            println!("users, sessions and 2FA records in PostgreSQL");
            serve(open_postgres(url, setup).await?, listener, &origin).await
        }
        None => {
            println!(
                "users, sessions and 2FA records in {}",
                options.database.display()
            );
            serve(
                open_sqlite(&options.database, setup).await?,
                listener,
                &origin,
            )
            .await
        }
    }
}

async fn serve<S: Store + 'static, St: Storage>(
    demo: Demo<S, St>,
    listener: tokio::net::TcpListener,
    origin: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let password = demo_password()?;
    demo.users
        .set_password(DEMO_ID, DEMO_EMAIL, &password)
        .await?;
    let _purging = demo
        .auth
        .spawn_purge(std::time::Duration::from_secs(15 * 60));
    println!("twofa demo on {origin}/");
    println!("sign in as {DEMO_EMAIL} with password {password}");
    let app = demo
        .app()
        .into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[derive(Debug)]
struct Options {
    addr: String,
    database: PathBuf,
    database_url: Option<String>,
    key_file: Option<PathBuf>,
    secure_cookies: bool,
    public_origin: Option<String>,
}

impl Options {
    /// The options, or `None` for `--help`.
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
        let mut options = Options {
            addr: "127.0.0.1:3000".into(),
            database: "twofa-demo.db".into(),
            database_url: None,
            key_file: None,
            secure_cookies: false,
            public_origin: None,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "-h" | "--help" => return Ok(None),
                "--addr" => options.addr = value()?,
                "--database" => options.database = value()?.into(),
                "--database-url" => options.database_url = Some(value()?),
                "--key-file" => options.key_file = Some(value()?.into()),
                "--public-origin" => options.public_origin = Some(value()?),
                "--secure-cookies" => options.secure_cookies = true,
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(Some(options))
    }
}

/// A fresh random password for the demo account, printed at start-up.
fn demo_password() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)?;
    Ok(data_encoding::BASE32_NOPAD.encode(&bytes).to_lowercase())
}
