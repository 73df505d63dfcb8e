//! The pipeline's exact SQL, replayed without the pipeline: the limit its database work sets on this machine.
//!
//! A capture pass runs with `log_statement = 'all'` on its scratch database, so PostgreSQL's own log holds
//! every statement the services issued, with its parameters, per backend. The replay then runs each backend's
//! statements in their order on a connection of its own (the same concurrency), against a twin database seeded
//! like the capture one: each parameterised statement prepared once per connection (as the services' statement
//! cache does) and executed with the logged values, one round trip per statement like the pipeline.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// One statement as the server logged it.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub sql: String,
    /// The values of `$1`, `$2`…, as text (`None` for SQL NULL); empty for a statement without parameters.
    pub params: Vec<Option<String>>,
}

/// The statements of one backend (one connection of a service), in the order it ran them.
#[derive(Debug)]
pub struct Session {
    pub user: String,
    pub statements: Vec<Logged>,
}

/// The default server log of Debian's PostgreSQL packages.
pub fn debian_log_path(server_version: &str) -> String {
    let major = server_version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap_or("15");
    format!("/var/log/postgresql/postgresql-{major}-main.log")
}

/// The log file's current length: where a capture starts or ends.
pub fn log_len(path: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("reading the PostgreSQL log {} (--pg-log)", path.display()))?
        .len())
}

/// Reads the statements logged between two offsets of the server log by sessions of `users` in `database`.
pub fn read_sessions(
    path: &Path,
    from: u64,
    to: u64,
    database: &str,
    users: &[&str],
) -> anyhow::Result<Vec<Session>> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    file.take(to.saturating_sub(from)).read_to_end(&mut bytes)?;
    Ok(parse_log(&String::from_utf8_lossy(&bytes), database, users))
}

/// Parses stderr-format log text (Debian's `log_line_prefix = '%m [%p] %q%u@%d '`). A message's continuation
/// lines start with a tab, which PostgreSQL adds after every newline of the message.
pub fn parse_log(text: &str, database: &str, users: &[&str]) -> Vec<Session> {
    let mut sessions: HashMap<u32, Session> = HashMap::new();
    let mut order = Vec::new();
    let mut current: Option<(u32, String, String)> = None; // pid, level, message
    for line in text.split('\n') {
        if let Some(rest) = line.strip_prefix('\t') {
            if let Some((_, _, message)) = current.as_mut() {
                message.push('\n');
                message.push_str(rest);
            }
            continue;
        }
        record(current.take(), &mut sessions);
        let Some((pid, user, db, level, message)) = split_prefix(line) else {
            continue;
        };
        if db != database || !users.contains(&user) {
            continue;
        }
        sessions.entry(pid).or_insert_with(|| {
            order.push(pid);
            Session {
                user: user.to_owned(),
                statements: Vec::new(),
            }
        });
        current = Some((pid, level.to_owned(), message.to_owned()));
    }
    record(current.take(), &mut sessions);
    order
        .into_iter()
        .filter_map(|pid| sessions.remove(&pid))
        .filter(|session| !session.statements.is_empty())
        .collect()
}

/// Adds one log message (pid, level, text) to its backend's statements.
fn record(entry: Option<(u32, String, String)>, sessions: &mut HashMap<u32, Session>) {
    let Some((pid, level, message)) = entry else {
        return;
    };
    let Some(session) = sessions.get_mut(&pid) else {
        return;
    };
    match level.as_str() {
        "LOG" => {
            let sql = message.strip_prefix("statement: ").or_else(|| {
                message
                    .strip_prefix("execute ")
                    .and_then(|rest| rest.split_once(": ").map(|(_, sql)| sql))
            });
            if let Some(sql) = sql {
                session.statements.push(Logged {
                    sql: sql.to_owned(),
                    params: Vec::new(),
                });
            }
        }
        "DETAIL" => {
            if let (Some(params), Some(last)) = (
                message.strip_prefix("parameters: "),
                session.statements.last_mut(),
            ) {
                last.params = parse_params(params);
            }
        }
        _ => {}
    }
}

/// `2026-12-05 16:30:20.569 UTC [2245] user@db LOG:  message` → (pid, user, db, level, message).
fn split_prefix(line: &str) -> Option<(u32, &str, &str, &str, &str)> {
    let (_, rest) = line.split_once(" [")?;
    let (pid, rest) = rest.split_once("] ")?;
    let (user_db, rest) = rest.split_once(' ')?;
    let (user, db) = user_db.split_once('@')?;
    let (level, message) = rest.split_once(":  ")?;
    Some((pid.parse().ok()?, user, db, level, message))
}

/// `$1 = 'a''b', $2 = NULL` → `[Some("a'b"), None]`.
fn parse_params(text: &str) -> Vec<Option<String>> {
    let mut params = Vec::new();
    let mut rest = text;
    while let Some(after) = rest.strip_prefix('$') {
        let Some((_, value)) = after.split_once(" = ") else {
            break;
        };
        if let Some(after_null) = value.strip_prefix("NULL") {
            params.push(None);
            rest = after_null;
        } else if let Some(quoted) = value.strip_prefix('\'') {
            let mut literal = String::new();
            let mut chars = quoted.char_indices().peekable();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                if c == '\'' {
                    if chars.peek().is_some_and(|(_, next)| *next == '\'') {
                        chars.next();
                        literal.push('\'');
                    } else {
                        end = i + 1;
                        break;
                    }
                } else {
                    literal.push(c);
                }
            }
            params.push(Some(literal));
            rest = &quoted[end..];
        } else {
            break;
        }
        rest = rest.strip_prefix(", ").unwrap_or(rest);
    }
    params
}

/// A SQL literal for a logged value.
fn literal(value: &Option<String>) -> String {
    match value {
        None => "NULL".to_owned(),
        Some(text) => format!("'{}'", text.replace('\'', "''")),
    }
}

/// `sql` with `$n` replaced by the literal values (for a statement the server cannot prepare untyped).
fn inline(sql: &str, params: &[Option<String>]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut n = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                n.push(d);
                chars.next();
            }
            match n
                .parse::<usize>()
                .ok()
                .and_then(|i| params.get(i.wrapping_sub(1)))
            {
                Some(value) => out.push_str(&literal(value)),
                None => {
                    out.push('$');
                    out.push_str(&n);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What the replay measured.
pub struct Replayed {
    pub connections: usize,
    pub statements: usize,
    pub transactions: usize,
    pub elapsed: Duration,
    /// Statements executed with their values inlined, the server could not prepare them untyped.
    pub inlined: usize,
    pub errors: usize,
    pub first_errors: Vec<String>,
}

/// Replays every session on its own connection to the twin database, all at once.
pub async fn replay(
    options: &PgConnectOptions,
    sessions: Vec<Session>,
) -> anyhow::Result<Replayed> {
    let mut prepared = Vec::with_capacity(sessions.len());
    for session in sessions {
        let mut conn = PgConnection::connect_with(&options.clone().username(&session.user))
            .await
            .with_context(|| format!("connecting as {}", session.user))?;
        // Each distinct parameterised statement is prepared once, as the services' statement cache does.
        let mut names: HashMap<String, Option<String>> = HashMap::new();
        let mut script = Vec::with_capacity(session.statements.len());
        let mut inlined = 0;
        for statement in session.statements {
            if statement.params.is_empty() {
                script.push(statement.sql);
                continue;
            }
            let next = names.len();
            let name = match names.get(&statement.sql) {
                Some(name) => name.clone(),
                None => {
                    let name = format!("replay_{next}");
                    let ok = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "prepare {name} as {}",
                        statement.sql
                    )))
                    .execute(&mut conn)
                    .await
                    .is_ok();
                    let name = ok.then_some(name);
                    names.insert(statement.sql.clone(), name.clone());
                    name
                }
            };
            script.push(match name {
                Some(name) => {
                    let args: Vec<String> = statement.params.iter().map(literal).collect();
                    format!("execute {name}({})", args.join(", "))
                }
                None => {
                    inlined += 1;
                    inline(&statement.sql, &statement.params)
                }
            });
        }
        prepared.push((conn, script, inlined));
    }

    let connections = prepared.len();
    let statements = prepared.iter().map(|(_, script, _)| script.len()).sum();
    let transactions = prepared
        .iter()
        .flat_map(|(_, script, _)| script.iter())
        .filter(|sql| {
            let sql = sql.trim().to_ascii_lowercase();
            sql == "commit" || sql == "rollback"
        })
        .count();
    let inlined = prepared.iter().map(|(_, _, inlined)| inlined).sum();
    let started = Instant::now();
    let tasks: Vec<_> = prepared
        .into_iter()
        .map(|(mut conn, script, _)| {
            tokio::spawn(async move {
                let mut errors = Vec::new();
                for sql in script {
                    if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await
                    {
                        errors.push(e.to_string());
                    }
                }
                let _ = conn.close().await;
                errors
            })
        })
        .collect();
    let mut errors = Vec::new();
    for task in tasks {
        errors.extend(task.await.context("replay task")?);
    }
    let elapsed = started.elapsed();
    let mut first_errors: Vec<String> = Vec::new();
    for error in &errors {
        if first_errors.len() < 5 && !first_errors.contains(error) {
            first_errors.push(error.clone());
        }
    }
    Ok(Replayed {
        connections,
        statements,
        transactions,
        elapsed,
        inlined,
        errors: errors.len(),
        first_errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "2026-12-05 16:30:20.569 UTC [2245] LOG:  checkpoint starting: time
2026-12-05 16:30:21.001 UTC [300] tdjaasa_app@bench LOG:  statement: BEGIN
2026-12-05 16:30:21.002 UTC [300] tdjaasa_app@bench LOG:  execute sqlx_s_1: select *
\tfrom chat where id = $1
\t  and note = $2
2026-12-05 16:30:21.002 UTC [301] tdjaasa_app@other LOG:  statement: BEGIN
2026-12-05 16:30:21.003 UTC [300] tdjaasa_app@bench DETAIL:  parameters: $1 = 'a''b', $2 = NULL
2026-12-05 16:30:21.004 UTC [300] root@bench LOG:  statement: select 1
2026-12-05 16:30:21.005 UTC [300] tdjaasa_app@bench LOG:  execute <unnamed>: insert into t values ($1, $10)
2026-12-05 16:30:21.005 UTC [300] tdjaasa_app@bench DETAIL:  parameters: $1 = 'x, y', $2 = 'two
\tlines'
";

    #[test]
    fn the_log_gives_each_backend_its_statements_with_their_values() {
        let sessions = parse_log(LOG, "bench", &["tdjaasa_app"]);
        assert_eq!(sessions.len(), 1);
        let statements = &sessions[0].statements;
        assert_eq!(statements.len(), 3);
        assert_eq!(statements[0].sql, "BEGIN");
        assert_eq!(
            statements[1].sql,
            "select *\nfrom chat where id = $1\n  and note = $2"
        );
        assert_eq!(statements[1].params, vec![Some("a'b".to_owned()), None]);
        assert_eq!(
            statements[2].params,
            vec![Some("x, y".to_owned()), Some("two\nlines".to_owned())]
        );
    }

    #[test]
    fn inlining_quotes_values_and_tells_dollar_ten_from_dollar_one() {
        let params: Vec<Option<String>> = (1..=10).map(|i| Some(format!("v{i}'"))).collect();
        assert_eq!(inline("f($1, $10)", &params), "f('v1''', 'v10''')");
        assert_eq!(inline("g($1)", &[None]), "g(NULL)");
    }
}
