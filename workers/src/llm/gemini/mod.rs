//! [`Gemini`]: the [`LlmProvider`] over Google's `generateContent` REST API with function calling
//! (`reference/external-apis.md` §5). The provider never retries: it maps every failure to the precise
//! [`LlmError`] and the pipeline decides (NAK with a delay, fallback, dead letter).

#[cfg(any(test, feature = "test-support"))]
pub mod fake;
mod meter;
mod wire;

pub use meter::Prices;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use schemas::MediaKind;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tracing::instrument;

use self::wire::{Answer, CallingMode};
use super::{LlmError, LlmProvider, Reply, ToolExecutor, Turn, Usage, prompt};

/// The provider name in logs and metrics.
const PROVIDER: &str = "gemini";

/// Longest error message copied from a Gemini error body into an [`LlmError`].
const MAX_ERROR_MESSAGE_CHARS: usize = 300;

const DEFAULT_MODEL: &str = "gemini-3.5-flash";
const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// Gemini settings. With no API key the workers use the offline assistant.
#[derive(Debug, Clone, clap::Args)]
pub struct GeminiConfig {
    /// Gemini API key (Google AI Studio). Unset or empty: the offline assistant answers instead.
    #[arg(long = "gemini-api-key", env = "GEMINI_API_KEY", value_parser = parse_secret)]
    pub api_key: Option<SecretString>,
    /// Model id, e.g. `gemini-3.5-flash` or `gemini-3.5-flash-lite`; older ids get retired, so keep it configurable.
    #[arg(
        long = "gemini-model",
        env = "GEMINI_MODEL",
        default_value = DEFAULT_MODEL
    )]
    pub model: String,
    /// API root, overridden by tests to point at a local fake.
    #[arg(
        long = "gemini-base-url",
        env = "GEMINI_BASE_URL",
        default_value = DEFAULT_BASE_URL
    )]
    pub base_url: String,
    /// Whole-request timeout of each `generateContent` call, in seconds (at least 1).
    #[arg(
        long = "gemini-timeout-secs",
        env = "GEMINI_TIMEOUT_SECS",
        default_value_t = 30
    )]
    pub timeout_secs: u64,
    /// Most rounds of tool calls in one turn; then the model is asked to answer with text only.
    #[arg(
        long = "gemini-max-tool-rounds",
        env = "GEMINI_MAX_TOOL_ROUNDS",
        default_value_t = 5
    )]
    pub max_tool_rounds: u32,
    /// Sampling temperature, 0 to 2: low keeps a sales assistant factual.
    #[arg(
        long = "gemini-temperature",
        env = "GEMINI_TEMPERATURE",
        default_value_t = 0.3
    )]
    pub temperature: f64,
    /// Longest answer of one round, in tokens: a WhatsApp reply is a few sentences.
    #[arg(
        long = "gemini-max-output-tokens",
        env = "GEMINI_MAX_OUTPUT_TOKENS",
        default_value_t = 1024
    )]
    pub max_output_tokens: u32,
    /// The model's price for prompt tokens, in XOF per million tokens: only for the estimated-cost metric.
    #[arg(
        long = "gemini-price-prompt-xof",
        env = "GEMINI_PRICE_PROMPT_XOF",
        default_value_t = DEFAULT_PRICES.prompt_xof_per_million
    )]
    pub price_prompt_xof: u64,
    /// The model's price for output tokens, in XOF per million tokens: only for the estimated-cost metric.
    #[arg(
        long = "gemini-price-output-xof",
        env = "GEMINI_PRICE_OUTPUT_XOF",
        default_value_t = DEFAULT_PRICES.output_xof_per_million
    )]
    pub price_output_xof: u64,
}

/// A flash-class model's list price (USD 0.30 and 2.50 per million prompt and output tokens) at 600 XOF to the
/// dollar. Set `GEMINI_PRICE_*` to the configured model's.
const DEFAULT_PRICES: Prices = Prices {
    prompt_xof_per_million: 180,
    output_xof_per_million: 1_500,
};

fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_owned()))
}

impl Default for GeminiConfig {
    fn default() -> Self {
        Self {
            api_key: None,
            model: DEFAULT_MODEL.to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout_secs: 30,
            max_tool_rounds: 5,
            temperature: 0.3,
            max_output_tokens: 1024,
            price_prompt_xof: DEFAULT_PRICES.prompt_xof_per_million,
            price_output_xof: DEFAULT_PRICES.output_xof_per_million,
        }
    }
}

impl GeminiConfig {
    /// The API key when one is set and not blank (`GEMINI_API_KEY=` in a compose file means "none").
    pub fn api_key(&self) -> Option<&SecretString> {
        self.api_key
            .as_ref()
            .filter(|k| !k.expose_secret().trim().is_empty())
    }
}

/// The Gemini provider. Cheap to share: hold it in an `Arc<dyn LlmProvider>`.
#[derive(Debug, Clone)]
pub struct Gemini {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    model: String,
    /// Only used to scrub error messages; the request header is built once in `http`.
    api_key: SecretString,
    timeout: Duration,
    max_tool_rounds: u32,
    /// `generationConfig` of every request.
    generation: wire::Generation,
    meter: meter::Meter,
}

/// Counts a failed request by kind (`llm_errors_total`).
fn count_error(kind: &'static str) {
    metrics::counter!("llm_errors_total", "provider" => PROVIDER, "kind" => kind).increment(1);
}

impl Gemini {
    /// The provider for `config`, or `None` when no API key is set.
    pub fn from_config(config: &GeminiConfig) -> Result<Option<Self>, LlmError> {
        match config.api_key() {
            Some(key) => Self::new(key.clone(), config).map(Some),
            None => Ok(None),
        }
    }

    /// The provider with `api_key` and the other settings of `config` (whose own key is ignored).
    pub fn new(api_key: SecretString, config: &GeminiConfig) -> Result<Self, LlmError> {
        let model = config.model.trim();
        // Accept the resource-name form too; the id ends up in the URL path, so only plain id characters.
        let model = model.strip_prefix("models/").unwrap_or(model);
        if model.is_empty()
            || !model
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(LlmError::Permanent(format!(
                "GEMINI_MODEL {model:?} is not a model id"
            )));
        }
        if !(0.0..=2.0).contains(&config.temperature) || config.max_output_tokens == 0 {
            return Err(LlmError::Permanent(format!(
                "GEMINI_TEMPERATURE ({}) must be between 0 and 2 and GEMINI_MAX_OUTPUT_TOKENS ({}) positive",
                config.temperature, config.max_output_tokens
            )));
        }
        let base = config.base_url.trim().trim_end_matches('/');
        let endpoint = reqwest::Url::parse(&format!(
            "{base}/v1beta/models/{model}:generateContent"
        ))
        .map_err(|e| LlmError::Permanent(format!("GEMINI_BASE_URL is not a valid URL: {e}")))?;

        let mut key_header =
            HeaderValue::from_str(api_key.expose_secret().trim()).map_err(|_| {
                LlmError::Permanent(
                    "GEMINI_API_KEY contains characters not allowed in a header".to_owned(),
                )
            })?;
        key_header.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("x-goog-api-key", key_header);

        let timeout = Duration::from_secs(config.timeout_secs.max(1));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            // The API never redirects, and a redirect would carry the key header to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| LlmError::Permanent(format!("cannot build the HTTP client: {e}")))?;
        let meter = meter::Meter::new(
            model,
            Prices {
                prompt_xof_per_million: config.price_prompt_xof,
                output_xof_per_million: config.price_output_xof,
            },
        );
        Ok(Self {
            meter,
            http,
            endpoint,
            model: model.to_owned(),
            api_key,
            timeout,
            max_tool_rounds: config.max_tool_rounds,
            generation: wire::Generation {
                temperature: config.temperature,
                max_output_tokens: config.max_output_tokens,
            },
        })
    }

    /// The model id requests go to.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// What the customer says in each voice note of the turn, one request per note, before the turn's
    /// request: the shop sees the words, and the model gets them beside the audio. A note that cannot be
    /// heard gets no transcript (the model then asks the customer to write).
    async fn transcribe_voice_notes(
        &self,
        turn: &Turn,
        usage: &mut Usage,
    ) -> Result<Vec<(usize, String)>, LlmError> {
        let mut transcripts = Vec::new();
        for media in turn.media.iter().filter(|m| m.kind == MediaKind::Audio) {
            let body = wire::transcription_body(
                &media.mime,
                &media.bytes,
                self.generation.max_output_tokens,
            );
            match self.generate(&body, 0, usage).await? {
                Answer::Text(heard) => {
                    let heard = heard.trim();
                    if !heard.is_empty() && heard != wire::INAUDIBLE {
                        transcripts.push((media.message, heard.to_owned()));
                    }
                }
                Answer::Calls { .. } => {
                    return Err(LlmError::Transient(
                        "Gemini called a tool instead of transcribing a voice note".to_owned(),
                    ));
                }
            }
        }
        Ok(transcripts)
    }

    /// One `generateContent` round: the model's answer (its token counts added to `usage`), or the mapped error.
    #[instrument(skip_all, fields(round = round))]
    async fn generate(
        &self,
        body: &Value,
        round: u32,
        usage: &mut Usage,
    ) -> Result<Answer, LlmError> {
        let started = Instant::now();
        let sent = self.send(body).await;
        metrics::histogram!("llm_request_duration_seconds", "provider" => PROVIDER)
            .record(started.elapsed().as_secs_f64());
        let before = *usage;
        let (result, outcome) = match sent {
            Ok(response) => {
                let parsed = wire::parse_response(&response, usage);
                self.meter.record(Usage {
                    prompt_tokens: usage.prompt_tokens.saturating_sub(before.prompt_tokens),
                    output_tokens: usage.output_tokens.saturating_sub(before.output_tokens),
                    media_tokens: usage.media_tokens.saturating_sub(before.media_tokens),
                });
                match parsed {
                    Ok(answer) => (Ok(answer), "ok"),
                    // A refusal is the model's verdict on the prompt, not a failure of the provider.
                    Err(e @ LlmError::Refused(_)) => (Err(e), "refused"),
                    // A 200 whose answer cannot be used: blocked, empty or a malformed call.
                    Err(e) => {
                        count_error("invalid_response");
                        (Err(e), "invalid_answer")
                    }
                }
            }
            Err(e @ LlmError::RateLimited { .. }) => (Err(e), "rate_limited"),
            Err(e @ LlmError::Transient(_)) => (Err(e), "transient"),
            Err(e @ LlmError::Permanent(_)) => (Err(e), "permanent"),
            Err(e @ LlmError::Refused(_)) => (Err(e), "refused"),
        };
        metrics::counter!("llm_requests_total", "provider" => PROVIDER, "outcome" => outcome)
            .increment(1);
        match &result {
            Ok(_) => tracing::debug!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "Gemini answered"
            ),
            Err(e) => tracing::warn!(outcome, error.message = %e, "Gemini request failed"),
        }
        result
    }

    async fn send(&self, body: &Value) -> Result<Value, LlmError> {
        let response = self
            .http
            .post(self.endpoint.clone())
            .json(body)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(wire::parse_retry_after);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();

        if status.is_success() {
            return json.ok_or_else(|| {
                count_error("invalid_response");
                LlmError::Transient(format!("Gemini sent an unreadable {status} response"))
            });
        }
        count_error(match status {
            StatusCode::TOO_MANY_REQUESTS => "rate_limited",
            StatusCode::REQUEST_TIMEOUT => "timeout",
            s if s.is_client_error() || s.is_redirection() => "client",
            _ => "server",
        });
        let detail = json
            .as_ref()
            .and_then(wire::error_summary)
            .map(|m| self.scrub(&m))
            .unwrap_or_else(|| "no error details".to_owned());
        let message = format!("Gemini {status}: {detail}");
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => LlmError::RateLimited {
                retry_after: json.as_ref().and_then(wire::retry_delay).or(retry_after),
            },
            StatusCode::REQUEST_TIMEOUT => LlmError::Transient(message),
            s if s.is_server_error() => LlmError::Transient(message),
            s if s.is_client_error() || s.is_redirection() => LlmError::Permanent(message),
            _ => LlmError::Transient(message),
        })
    }

    fn transport_error(&self, e: &reqwest::Error) -> LlmError {
        count_error(if e.is_timeout() { "timeout" } else { "network" });
        let what = if e.is_timeout() {
            format!("no answer within {}s", self.timeout.as_secs())
        } else if e.is_connect() {
            "cannot connect".to_owned()
        } else if e.is_body() || e.is_decode() {
            "the response body could not be read".to_owned()
        } else {
            "the request failed".to_owned()
        };
        // The key travels in a header, never in the URL, so reqwest's message cannot hold it; scrub anyway.
        let source = std::error::Error::source(e)
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        LlmError::Transient(self.scrub(&format!("Gemini: {what}{source}")))
    }

    /// Error text goes to logs and the dead-letter table: make sure it never carries the key, and stays short.
    fn scrub(&self, message: &str) -> String {
        let key = self.api_key.expose_secret().trim();
        let message = if key.is_empty() {
            message.to_owned()
        } else {
            message.replace(key, "[redacted]")
        };
        message.chars().take(MAX_ERROR_MESSAGE_CHARS).collect()
    }
}

#[async_trait]
impl LlmProvider for Gemini {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    /// The function-calling loop of §5.4: each model content with calls is appended verbatim, followed by a
    /// `user` content with one `functionResponse` per call, until the model answers with text. After
    /// `max_tool_rounds` rounds of calls one last request forbids calls, so the turn ends with text or an error.
    #[instrument(skip_all, fields(provider = PROVIDER, model = %self.model))]
    async fn respond(&self, turn: &Turn, tools: &mut dyn ToolExecutor) -> Result<Reply, LlmError> {
        let system = prompt::system_instruction(turn);
        let mut usage = Usage::default();
        let transcripts = self.transcribe_voice_notes(turn, &mut usage).await?;
        let mut contents = wire::initial_contents(turn, &transcripts)?;

        for round in 0..=self.max_tool_rounds {
            let mode = if round < self.max_tool_rounds {
                CallingMode::Auto
            } else {
                CallingMode::None
            };
            let body = wire::request_body(&system, &contents, mode, self.generation);
            match self.generate(&body, round, &mut usage).await? {
                Answer::Text(text) => {
                    tracing::debug!(round, ?usage, "Gemini turn answered");
                    return Ok(Reply {
                        text,
                        usage,
                        engine: "gemini",
                        transcripts,
                    });
                }
                Answer::Calls { .. } if mode == CallingMode::None => break,
                Answer::Calls { content, calls } => {
                    let mut results = Vec::with_capacity(calls.len());
                    for call in &calls {
                        tracing::debug!(round, tool = %call.name, "running tool");
                        results.push(tools.call(&call.name, call.args.clone()).await);
                    }
                    contents.push(content);
                    contents.push(wire::function_responses(&calls, results));
                }
            }
        }
        Err(LlmError::Transient(format!(
            "Gemini gave no text answer after {} tool rounds",
            self.max_tool_rounds
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        gemini: GeminiConfig,
    }

    #[test]
    fn flags_are_prefixed_and_clap_defaults_match_default() {
        let command = Cli::command();
        command.clone().debug_assert();
        let default = |long: &str| -> Option<String> {
            let arg = command
                .get_arguments()
                .find(|a| a.get_long() == Some(long))?;
            arg.get_default_values()
                .first()
                .map(|v| v.to_string_lossy().into_owned())
        };
        let expected = GeminiConfig::default();

        assert_eq!(default("gemini-model"), Some(expected.model));
        assert_eq!(default("gemini-base-url"), Some(expected.base_url));
        assert_eq!(
            default("gemini-timeout-secs"),
            Some(expected.timeout_secs.to_string())
        );
        assert_eq!(
            default("gemini-max-tool-rounds"),
            Some(expected.max_tool_rounds.to_string())
        );
        assert!(
            command
                .get_arguments()
                .any(|a| a.get_long() == Some("gemini-api-key"))
        );
    }
}
