//! `tdjaasa`: one binary for every Tdjaasa process. It parses configuration, starts logging and dispatches
//! to the library crates; nothing else lives here.

mod doctor;
mod telemetry;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "tdjaasa",
    version,
    about = "Tdjaasa: WhatsApp AI sales assistants for small businesses"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    config: Config,
}

/// Settings shared by every subcommand; each has an environment variable and a local default.
#[derive(clap::Args)]
struct Config {
    /// `development` (generated dev keys, sandboxes) or `production` (every secret must be given, no
    /// sandbox). Default: `development` for `up`, the local one-command start; `production` for every
    /// service started on its own, so a bare binary never runs with dev keys and an open payment sandbox.
    #[arg(long, env = "TDJ_ENV", value_enum)]
    env: Option<Environment>,
    /// `pretty` for people, `json` for log collectors.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    log_format: LogFormat,
    #[command(flatten)]
    db: store::DbConfig,
    #[command(flatten)]
    nats: tdj_nats::NatsConfig,
    #[command(flatten)]
    crypto: store::crypto::CryptoConfig,
    #[command(flatten)]
    api: api::ApiConfig,
    #[command(flatten)]
    worker: workers::WorkerConfig,
    #[command(flatten)]
    ingress: ingress::IngressConfig,
    /// Customer voice notes and photos: `MEDIA_MAX_BYTES`, `MEDIA_RETENTION_DAYS`.
    #[command(flatten)]
    media: store::media::MediaConfig,
    /// Where every process exposes `/metrics` for Prometheus (never on the public API port).
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9100")]
    metrics_addr: String,
    #[command(flatten)]
    billing: api::billing::BillingConfig,
    /// Outgoing e-mail (invitations, password resets): `SMTP_URL`, `MAIL_FROM`.
    #[command(flatten)]
    mail: api::mail::MailConfig,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Environment {
    Development,
    Production,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Pretty,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate, provision NATS and run every service in one process: the one-command local start.
    Up,
    /// Serve the HTTP API.
    Api,
    /// Run a pipeline worker (scale by running more).
    Worker,
    /// Hold the shops' WhatsApp connections (scale by running more; leases spread the shops).
    Ingress,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Print the REST API's OpenAPI document (JSON) and exit; the server serves the same at
    /// `/api/v1/openapi.json`.
    Openapi,
    /// Check the installation (PostgreSQL and its roles, the schema, row-level security, NATS and its
    /// streams, the master key, the providers) and say what is wrong; exits with 1 when something is.
    Doctor,
    /// Platform administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a platform administrator (or reset an existing administrator's password).
    Create {
        #[arg(long)]
        email: String,
        /// The password; may also come from TDJ_ADMIN_PASSWORD to keep it out of the process list.
        #[arg(long, env = "TDJ_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    let _telemetry = telemetry::init(cli.config.log_format == LogFormat::Json);
    cli.config.env.get_or_insert(match cli.command {
        Command::Up => Environment::Development,
        _ => Environment::Production,
    });
    match cli.command {
        Command::Up => run(cli.config, Services::ALL).await,
        Command::Api => {
            run(
                cli.config,
                Services {
                    api: true,
                    ..Services::NONE
                },
            )
            .await
        }
        Command::Worker => {
            run(
                cli.config,
                Services {
                    worker: true,
                    ..Services::NONE
                },
            )
            .await
        }
        Command::Ingress => {
            run(
                cli.config,
                Services {
                    ingress: true,
                    ..Services::NONE
                },
            )
            .await
        }
        Command::Openapi => {
            println!("{}", api::openapi::pretty_json()?);
            Ok(())
        }
        Command::Doctor => {
            if doctor::run(&cli.config).await > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Migrate => {
            store::db::prepare(&cli.config.db).await?;
            tracing::info!("database schema is up to date");
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::Create { email, password },
        } => {
            if let Err(e) = admin_create(&cli.config, &email, SecretString::from(password)).await {
                eprintln!("Erreur : {e}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// Which services this process runs.
struct Services {
    migrate: bool,
    api: bool,
    worker: bool,
    ingress: bool,
}

impl Services {
    const NONE: Services = Services {
        migrate: false,
        api: false,
        worker: false,
        ingress: false,
    };
    const ALL: Services = Services {
        migrate: true,
        api: true,
        worker: true,
        ingress: true,
    };
}

/// Runs the requested services until Ctrl-C or SIGTERM, then lets in-flight work finish.
async fn run(mut config: Config, services: Services) -> anyhow::Result<()> {
    // The process's recorder before any service records, with the help lines of every service's metrics.
    api::metrics::handle();
    workers::metrics::describe();
    ingress::metrics::describe();
    let production = config.env != Some(Environment::Development);
    anyhow::ensure!(
        !(production && config.ingress.gateway == ingress::GatewayKind::Sandbox),
        "WHATSAPP_GATEWAY=sandbox is refused with TDJ_ENV=production: it simulates WhatsApp connections and \
         lets the dashboard inject customer messages"
    );
    // Checked before anything starts: e-mailed links must leave the server, and must not follow a forged Host.
    let mailer = if services.api {
        anyhow::ensure!(
            !production || config.api.public_url.is_some() || config.billing.public_url.is_some(),
            "TDJ_ENV=production needs PUBLIC_URL (or BILLING_PUBLIC_URL), e.g. https://app.tdjaasa.ci: the links \
             in invitation and password-reset e-mails are built from it"
        );
        Some(api::mail::mailer_from_config(&config.mail, production)?)
    } else {
        None
    };
    if services.migrate {
        store::db::prepare(&config.db)
            .await
            .context("database preparation failed")?;
    }
    // Only the API (tokens, sealed secrets, media), the ingress (WhatsApp sessions, media) and the workers
    // (customers' voice notes and photos for the model, product photos) hold the master key.
    let master = if services.api || services.ingress || services.worker {
        Some(store::crypto::MasterKey::load(&config.crypto, production)?)
    } else {
        None
    };
    let master_key = || {
        master
            .clone()
            .context("the master key is loaded for the api, the ingress and the workers")
    };
    let db = store::Db::connect(&config.db).await?;
    let subjects = config.nats.subjects()?;
    let nats = tdj_nats::connect(&config.nats).await?;
    tdj_nats::provision(&nats, &subjects, &config.nats.streams).await?;

    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));
    let mut tasks = tokio::task::JoinSet::new();

    if services.worker {
        config.worker.check().map_err(anyhow::Error::msg)?;
        // The payment links the bot sends point at the dashboard's public address; the sandbox payment only
        // where the platform's payment sandbox is on (never in production).
        config.worker.public_url = config
            .api
            .public_url
            .clone()
            .or_else(|| config.billing.public_url.clone())
            .or_else(|| (!production).then(|| format!("http://{}", config.api.http_addr)));
        config.worker.pay_sandbox = !production && config.billing.sandbox.unwrap_or(true);
        let provider = workers::provider_from_config(&config.worker)?;
        let pipeline = workers::Pipeline::new(
            db.clone(),
            nats.clone(),
            subjects.clone(),
            provider,
            config.worker,
            master_key()?,
        );
        let stop = shutdown.clone();
        tasks.spawn(async move { pipeline.run(stop).await.context("worker failed") });
    }
    if services.ingress {
        let gateway: std::sync::Arc<dyn ingress::WhatsAppGateway> = match config.ingress.gateway {
            ingress::GatewayKind::Whatsapp => {
                std::sync::Arc::new(ingress::whatsapp::WhatsAppRustGateway::new(
                    db.clone(),
                    master_key()?,
                    ingress::whatsapp::WaConfig::default(),
                ))
            }
            ingress::GatewayKind::Sandbox => {
                tracing::warn!(
                    "WHATSAPP_GATEWAY=sandbox: simulated WhatsApp connections, no real number is linked"
                );
                std::sync::Arc::new(ingress::SandboxGateway::new(
                    db.clone(),
                    nats.clone(),
                    subjects.clone(),
                    config.ingress.sandbox_qr_interval,
                    config.ingress.sandbox_qr_count,
                ))
            }
        };
        let (db, nats, subjects, stop) =
            (db.clone(), nats.clone(), subjects.clone(), shutdown.clone());
        let ingress_config = config.ingress.clone();
        let (master, media) = (master_key()?, config.media.clone());
        tasks.spawn(async move {
            ingress::run_node(
                db,
                nats,
                subjects,
                gateway,
                ingress_config,
                master,
                media,
                stop,
            )
            .await
            .context("ingress failed")
        });
    }
    if services.api {
        let master = master_key()?;
        let tokens = api::auth::TokenKeys::from_master_key(&master, config.api.jwt_ttl_minutes);
        let billing = api::billing::Billing::from_config(&config.billing, &master, production)?;
        tracing::info!(providers = ?billing.available(), "payment providers");
        // The expiry job runs in every API process; it is safe to run on several at once.
        let expiry = api::billing::spawn_expiry_job(
            db.clone(),
            std::time::Duration::from_secs(config.billing.expiry_interval_secs),
            config.billing.grace(),
            shutdown.clone(),
        );
        let mut api_config = config.api;
        api_config.secure_cookies = production;
        api_config.whatsapp_sandbox = config.ingress.gateway == ingress::GatewayKind::Sandbox;
        let state = api::AppState::new(db, nats, subjects, api_config, tokens)
            .with_billing(billing)
            .with_master_key(master.clone())
            .with_media(config.media.clone())
            .with_mailer(mailer.context("the mailer is built for the API")?);
        let app = api::Application::build(state).await?;
        tracing::info!("Tdjaasa API listening on http://{}", app.local_addr()?);
        let stop = shutdown.clone();
        tasks.spawn(async move {
            let served = app
                .run_until_stopped(async move { stop.cancelled().await })
                .await;
            expiry.abort();
            served
        });
    }
    {
        let stop = shutdown.clone();
        let addr = config.metrics_addr.clone();
        tasks.spawn(async move {
            api::metrics::serve(&addr, async move { stop.cancelled().await }).await
        });
    }

    // The first service to stop (on a signal or a failure) stops the others.
    let mut outcome = Ok(());
    while let Some(joined) = tasks.join_next().await {
        let result = joined.context("service task panicked").and_then(|r| r);
        if let Err(e) = result {
            tracing::error!(error = ?e, "service stopped with an error");
            outcome = Err(e);
        }
        shutdown.cancel();
    }
    tracing::info!("stopped");
    outcome
}

/// The e-mail and password of a new administrator, checked before anything is touched; the errors are the
/// operator's, in French like every message of the product.
fn admin_input(email: &str, password: &SecretString) -> anyhow::Result<String> {
    let email = email.trim().to_lowercase();
    anyhow::ensure!(
        email.contains('@') && email.len() <= 254 && !email.contains(char::is_whitespace),
        "adresse e-mail invalide : « {email} »"
    );
    anyhow::ensure!(
        secrecy::ExposeSecret::expose_secret(password)
            .chars()
            .count()
            >= 12,
        "le mot de passe d'un administrateur doit contenir au moins 12 caractères"
    );
    if let Some(weakness) =
        api::auth::strength::weakness(secrecy::ExposeSecret::expose_secret(password), &[&email])
    {
        anyhow::bail!("{weakness}");
    }
    Ok(email)
}

async fn admin_create(config: &Config, email: &str, password: SecretString) -> anyhow::Result<()> {
    let email = admin_input(email, &password)?;
    store::db::prepare(&config.db)
        .await
        .context("impossible de préparer la base de données (DATABASE_URL)")?;
    let db = store::Db::connect(&config.db)
        .await
        .context("impossible de se connecter à la base de données")?;
    let hash = api::auth::hash_password(password)
        .await
        .context("impossible de chiffrer le mot de passe")?;
    let mut tx = db.platform().await?;
    let user_id = store::users::upsert_platform_admin(&mut tx, &email, &hash)
        .await
        .context("cette adresse e-mail appartient déjà au compte d'une boutique")?;
    tx.commit().await?;
    println!("Administrateur de la plateforme {email} prêt (utilisateur {user_id}).");
    Ok(())
}

/// Cancels `token` on Ctrl-C or SIGTERM.
async fn wait_for_signal(token: CancellationToken) {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight work");
    token.cancel();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn admin_create_checks_its_input_in_french() {
        use secrecy::SecretString;

        let strong = SecretString::from("mot-de-passe-solide".to_owned());
        assert_eq!(
            super::admin_input(" Ops@Tdjaasa.CI ", &strong).expect("valid"),
            "ops@tdjaasa.ci"
        );
        let errors = [
            super::admin_input("ops", &strong),
            super::admin_input("ops@tdjaasa.ci", &SecretString::from("court".to_owned())),
        ]
        .map(|r| r.expect_err("refused").to_string());
        assert_eq!(errors[0], "adresse e-mail invalide : « ops »");
        assert_eq!(
            errors[1],
            "le mot de passe d'un administrateur doit contenir au moins 12 caractères"
        );
    }

    #[test]
    fn the_settings_of_every_crate_combine_into_one_command_line() {
        // Flattened configs must not reuse a flag or an argument id (clap panics at start-up if they do).
        Cli::command().debug_assert();
    }
}
