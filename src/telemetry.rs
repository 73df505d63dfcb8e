//! Logging: human-readable by default, JSON lines with `LOG_FORMAT=json`; filtered by `RUST_LOG`. Colour codes
//! only when the log goes to a terminal: a file or a log collector gets plain text.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Log targets that print secrets at info level and are always capped at `warn`, whatever `RUST_LOG` says:
/// whatsapp-rust logs the pairing code and phone number when linking by code.
const SECRET_TARGETS: [&str; 2] = ["Client/PairCode", "Bot/PairCode"];

pub fn init(json: bool) {
    let mut filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,async_nats=warn"));
    for target in SECRET_TARGETS {
        if let Ok(directive) = format!("{target}=warn").parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal());
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::SECRET_TARGETS;

    #[test]
    fn secret_targets_parse_as_filter_directives() {
        for target in SECRET_TARGETS {
            let directive: Result<tracing_subscriber::filter::Directive, _> =
                format!("{target}=warn").parse();
            assert!(directive.is_ok(), "{target}");
        }
    }
}
