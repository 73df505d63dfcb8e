//! `tdjaasa doctor`: checks an installation the way an operator would by hand — PostgreSQL and its roles,
//! the migrations, row-level security, NATS and its streams, the master key, the model and payment providers,
//! the mail and public address — and says what is wrong in plain French. It changes nothing.

use std::time::Duration;

use crate::{Config, Environment};

/// How long each service may take to answer before it counts as unreachable.
const REACH: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    /// Works, but not as a production installation should.
    Warning,
    Problem,
}

struct Line {
    verdict: Verdict,
    what: String,
    text: String,
}

#[derive(Default)]
struct Report {
    lines: Vec<Line>,
}

impl Report {
    fn add(&mut self, verdict: Verdict, what: impl Into<String>, text: impl Into<String>) {
        self.lines.push(Line {
            verdict,
            what: what.into(),
            text: text.into(),
        });
    }

    fn problems(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| l.verdict == Verdict::Problem)
            .count()
    }

    fn print(&self) {
        for line in &self.lines {
            let mark = match line.verdict {
                Verdict::Ok => "ok",
                Verdict::Warning => "attention",
                Verdict::Problem => "PROBLÈME",
            };
            println!("[{mark:^9}] {} : {}", line.what, line.text);
        }
    }
}

/// Runs every check, prints the report; the number of problems found.
pub async fn run(config: &Config) -> usize {
    let production = config.env != Some(Environment::Development);
    let mut report = Report::default();
    println!(
        "Tdjaasa doctor — {} ({})",
        if production {
            "production"
        } else {
            "développement"
        },
        env!("CARGO_PKG_VERSION")
    );
    check_database(config, &mut report).await;
    check_nats(config, &mut report).await;
    check_secrets_and_providers(config, production, &mut report);
    report.print();
    let problems = report.problems();
    if problems == 0 {
        println!("Aucun problème trouvé.");
    } else {
        println!("{problems} problème(s) à corriger.");
    }
    problems
}

async fn connect(
    options: anyhow::Result<store::inspect::ConnectOptions>,
) -> Result<store::inspect::Pool, String> {
    let options = options.map_err(|e| e.to_string())?;
    store::inspect::connect(options, REACH)
        .await
        .map_err(|e| format!("connexion impossible ({e})"))
}

async fn check_database(config: &Config, report: &mut Report) {
    let app = connect(config.db.app_options()).await;
    let platform = connect(config.db.platform_options()).await;
    for (what, pool, variable) in [
        ("PostgreSQL, rôle des boutiques", &app, "DATABASE_APP_URL"),
        (
            "PostgreSQL, rôle de la plateforme",
            &platform,
            "DATABASE_PLATFORM_URL",
        ),
    ] {
        let pool = match pool {
            Ok(pool) => pool,
            Err(e) => {
                report.add(
                    Verdict::Problem,
                    what,
                    format!(
                        "{e} : vérifiez {variable} (hôte, mot de passe), que PostgreSQL tourne et que la base \
                         existe (`tdjaasa migrate` la crée)"
                    ),
                );
                continue;
            }
        };
        match store::inspect::login(pool).await {
            Ok(login) if login.superuser || login.bypass_rls => report.add(
                Verdict::Problem,
                what,
                format!(
                    "le rôle {} contourne la sécurité par ligne (SUPERUSER ou BYPASSRLS) : une boutique verrait les \
                     données des autres ; utilisez le rôle créé par `tdjaasa migrate`",
                    login.role
                ),
            ),
            Ok(login) => report.add(
                Verdict::Ok,
                what,
                format!(
                    "joignable, rôle {} sans SUPERUSER ni BYPASSRLS",
                    login.role
                ),
            ),
            Err(e) => report.add(Verdict::Problem, what, format!("requête refusée ({e})")),
        }
    }

    let Some(pool) = platform.as_ref().ok().or(app.as_ref().ok()) else {
        return;
    };
    // The migration table is the schema owner's; the services' roles may not read it.
    let owner = connect(config.db.owner_options()).await.ok();
    match store::inspect::missing_migrations(owner.as_ref().unwrap_or(pool)).await {
        Ok(Some(missing)) if missing.is_empty() => report.add(
            Verdict::Ok,
            "Schéma",
            format!("{} migrations appliquées", store::MIGRATOR.iter().count()),
        ),
        Ok(Some(missing)) => report.add(
            Verdict::Problem,
            "Schéma",
            format!(
                "{} migration(s) non appliquée(s) ({}) : lancez `tdjaasa migrate` avec l'URL du propriétaire du \
                 schéma (DATABASE_URL)",
                missing.len(),
                missing.join(", ")
            ),
        ),
        Ok(None) => report.add(
            Verdict::Warning,
            "Schéma",
            "migrations non vérifiées : le propriétaire du schéma (DATABASE_URL) est injoignable d'ici et les \
             rôles des services ne lisent pas la table des migrations ; `tdjaasa migrate` les applique",
        ),
        Err(e) => report.add(Verdict::Problem, "Schéma", format!("lecture impossible ({e})")),
    }
    match store::inspect::tables_without_rls(pool).await {
        Ok(tables) if tables.is_empty() => report.add(
            Verdict::Ok,
            "Sécurité par ligne",
            "active et forcée sur chaque table des boutiques",
        ),
        Ok(tables) => report.add(
            Verdict::Problem,
            "Sécurité par ligne",
            format!(
                "absente ou non forcée sur {} : ces tables exposent les données de toutes les boutiques ; \
                 réappliquez les migrations",
                tables.join(", ")
            ),
        ),
        Err(e) => report.add(
            Verdict::Problem,
            "Sécurité par ligne",
            format!("lecture impossible ({e})"),
        ),
    }
}

async fn check_nats(config: &Config, report: &mut Report) {
    let subjects = match config.nats.subjects() {
        Ok(subjects) => subjects,
        Err(e) => {
            report.add(Verdict::Problem, "NATS", format!("préfixe invalide ({e})"));
            return;
        }
    };
    let client = match tokio::time::timeout(REACH, tdj_nats::connect(&config.nats)).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => {
            report.add(
                Verdict::Problem,
                "NATS",
                format!("connexion impossible ({e}) : vérifiez NATS_URL et que nats-server tourne"),
            );
            return;
        }
        Err(_) => {
            report.add(
                Verdict::Problem,
                "NATS",
                "pas de réponse en 5 s : vérifiez NATS_URL et que nats-server tourne",
            );
            return;
        }
    };
    report.add(
        Verdict::Ok,
        "NATS",
        format!("joignable (serveur {})", client.server_info().version),
    );
    for finding in tdj_nats::inspect::check(&client, &subjects, &config.nats.streams).await {
        match finding.problem {
            None => report.add(Verdict::Ok, finding.what, finding.seen),
            Some(problem) => report.add(
                Verdict::Problem,
                finding.what,
                format!("{problem} ({})", finding.seen),
            ),
        }
    }
}

fn check_secrets_and_providers(config: &Config, production: bool, report: &mut Report) {
    // Loading the development key would create its file: the doctor only looks.
    let dev_file = &config.crypto.master_key_file;
    let master = if config.crypto.master_key.is_none() && !production && !dev_file.exists() {
        report.add(
            Verdict::Warning,
            "Clé maîtresse",
            format!(
                "pas de TDJ_MASTER_KEY : une clé de développement sera créée au premier démarrage dans {}",
                dev_file.display()
            ),
        );
        None
    } else {
        match store::crypto::MasterKey::load(&config.crypto, production) {
            Ok(master) => {
                report.add(
                    Verdict::Ok,
                    "Clé maîtresse",
                    if config.crypto.master_key.is_some() {
                        "TDJ_MASTER_KEY valide (32 octets)".to_owned()
                    } else {
                        format!("clé de développement ({})", dev_file.display())
                    },
                );
                Some(master)
            }
            Err(e) => {
                report.add(
                    Verdict::Problem,
                    "Clé maîtresse",
                    format!(
                        "{e} : sans elle l'API et l'ingress ne démarrent pas, et sans la bonne les sessions \
                         WhatsApp et les secrets des boutiques sont illisibles"
                    ),
                );
                None
            }
        }
    };

    match config.worker.gemini.api_key() {
        Some(_) => report.add(
            Verdict::Ok,
            "Modèle",
            format!("Gemini, modèle {}", config.worker.gemini.model),
        ),
        None => report.add(
            Verdict::Warning,
            "Modèle",
            "pas de GEMINI_API_KEY : l'assistant hors ligne répond seul (prix, stock, commandes simples)",
        ),
    }

    if let Some(master) = &master {
        match api::billing::Billing::from_config(&config.billing, master, production) {
            Ok(billing) => {
                let providers: Vec<&str> = billing.available().iter().map(|p| p.as_str()).collect();
                let real = providers.iter().any(|p| *p != "sandbox");
                if real {
                    report.add(Verdict::Ok, "Paiements", providers.join(", "));
                } else {
                    report.add(
                        if production {
                            Verdict::Problem
                        } else {
                            Verdict::Warning
                        },
                        "Paiements",
                        "aucun moyen de paiement réel (WAVE_API_KEY, ORANGE_MONEY_*, STRIPE_SECRET_KEY) : les \
                         boutiques ne peuvent pas payer leur abonnement",
                    );
                }
                if config.billing.wave_api_key.is_some()
                    && config.billing.wave_webhook_secret.is_none()
                {
                    report.add(
                        Verdict::Problem,
                        "Paiements",
                        "WAVE_API_KEY sans WAVE_WEBHOOK_SECRET : les notifications de Wave seront refusées et \
                         les paiements jamais confirmés",
                    );
                }
            }
            Err(e) => report.add(Verdict::Problem, "Paiements", e.to_string()),
        }
    }

    match api::mail::mailer_from_config(&config.mail, production) {
        Ok(_) if config.mail.smtp_url.is_some() => report.add(Verdict::Ok, "E-mail", "SMTP_URL configurée"),
        Ok(_) => report.add(
            Verdict::Warning,
            "E-mail",
            "pas de SMTP_URL : les e-mails (invitations, mots de passe) sont écrits dans le journal",
        ),
        Err(e) => report.add(Verdict::Problem, "E-mail", e.to_string()),
    }
    let public = config
        .api
        .public_url
        .as_deref()
        .or(config.billing.public_url.as_deref());
    match public {
        Some(url) => report.add(Verdict::Ok, "Adresse publique", url.to_owned()),
        None if production => report.add(
            Verdict::Problem,
            "Adresse publique",
            "PUBLIC_URL absente : les liens des e-mails et les retours de paiement ne peuvent pas être construits",
        ),
        None => report.add(
            Verdict::Warning,
            "Adresse publique",
            "PUBLIC_URL absente (en développement, l'adresse locale sert)",
        ),
    }
}
