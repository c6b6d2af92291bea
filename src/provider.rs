//! Sending a rendered prompt to a model server (Ollama or an OpenAI-compatible API) and
//! reading the answer, with every failure turned into an error text that can be recorded.
//!
//! The API key is passed in by the caller (the CLI reads it from the environment), sent only
//! in the `Authorization` header of requests to its provider, and scrubbed from every error
//! text, so it can never reach a run log.

use std::time::Duration;
#[cfg(feature = "providers")]
use std::time::Instant;

use serde_json::Value;

use crate::prompt::Provider;

/// Where and how to send requests.
#[derive(Clone)]
pub struct Endpoint {
    /// Which API.
    pub provider: Provider,
    /// Base URL: `http://localhost:11434` for Ollama, `https://api.openai.com/v1` for OpenAI.
    pub base_url: String,
    /// Bearer token for OpenAI-compatible servers (never printed or stored).
    pub api_key: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[hidden]"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The generated text.
    pub output: String,
    /// Tokens of the prompt, when the server reports them.
    pub prompt_tokens: Option<u64>,
    /// Tokens generated, when the server reports them.
    pub completion_tokens: Option<u64>,
    /// Why the server stopped generating, as it says (`stop`, `length`, …): OpenAI's
    /// `choices[0].finish_reason`, Ollama's `done_reason`.
    pub finish_reason: Option<String>,
}

impl Completion {
    /// Prompt plus generated tokens, when both or either are known.
    pub fn total_tokens(&self) -> Option<u64> {
        match (self.prompt_tokens, self.completion_tokens) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        }
    }
}

/// Why a request failed; the text is what a run records as `error`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Nothing answered at the address.
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The request took longer than the timeout.
    #[error("timeout after {} s", .0.as_secs_f64())]
    Timeout(Duration),
    /// The server answered with an error status.
    #[error("HTTP {status} from {url}{}{body}", if body.is_empty() { "" } else { ": " })]
    Http {
        /// Status code.
        status: u16,
        /// The URL.
        url: String,
        /// The start of the answer's body.
        body: String,
    },
    /// The answer was not what the API documents.
    #[error("malformed response from {url}: {reason}")]
    Malformed {
        /// The URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

/// The URL requests go to; for Ollama, `/api/chat` when `chat` (a chat prompt's messages)
/// and `/api/generate` otherwise.
pub fn request_url(endpoint: &Endpoint, chat: bool) -> String {
    let base = endpoint.base_url.trim_end_matches('/');
    match endpoint.provider {
        Provider::Ollama if chat => format!("{base}/api/chat"),
        Provider::Ollama => format!("{base}/api/generate"),
        Provider::Openai => format!("{base}/chat/completions"),
    }
}

/// The URL `body` is sent to: a body with `messages` is a chat request.
pub fn body_url(endpoint: &Endpoint, body: &Value) -> String {
    request_url(endpoint, body.get("messages").is_some())
}

/// Send `body` (from [`crate::render::ollama_body`] or [`crate::render::openai_body`]) and
/// parse the answer. Returns the result and the wall time the request took.
#[cfg(feature = "providers")]
pub fn complete(
    endpoint: &Endpoint,
    body: &Value,
) -> (Result<Completion, ProviderError>, Duration) {
    let start = Instant::now();
    let result = send(endpoint, body).map_err(|e| scrub(e, endpoint.api_key.as_deref()));
    (result, start.elapsed())
}

#[cfg(feature = "providers")]
fn send(endpoint: &Endpoint, body: &Value) -> Result<Completion, ProviderError> {
    let url = body_url(endpoint, body);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(endpoint.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.post(&url).header("Content-Type", "application/json");
    if let (Provider::Openai, Some(key)) = (endpoint.provider, &endpoint.api_key) {
        req = req.header("Authorization", &format!("Bearer {key}"));
    }
    let io_error = |e: ureq::Error| match e {
        ureq::Error::Timeout(_) => ProviderError::Timeout(endpoint.timeout),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            ProviderError::Timeout(endpoint.timeout)
        }
        ureq::Error::Io(io) => ProviderError::Connect {
            url: url.clone(),
            reason: io.to_string(),
        },
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => ProviderError::Connect {
            url: url.clone(),
            reason: e.to_string(),
        },
        other => ProviderError::Malformed {
            url: url.clone(),
            reason: other.to_string(),
        },
    };
    let payload = serde_json::to_vec(body).map_err(|e| ProviderError::Malformed {
        url: url.clone(),
        reason: e.to_string(),
    })?;
    let mut resp = req.send(&payload[..]).map_err(io_error)?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .map_err(io_error)?;
    if !(200..300).contains(&status) {
        let mut snippet: String = text.chars().take(300).collect();
        if snippet.len() < text.len() {
            snippet.push('…');
        }
        return Err(ProviderError::Http {
            status,
            url,
            body: snippet.trim().to_string(),
        });
    }
    let malformed = |reason: String| ProviderError::Malformed {
        url: url.clone(),
        reason,
    };
    let json: Value =
        serde_json::from_str(&text).map_err(|e| malformed(format!("not JSON ({e})")))?;
    parse_answer(endpoint.provider, &json).map_err(malformed)
}

/// Read a non-streaming answer in the provider's documented shape.
pub fn parse_answer(provider: Provider, json: &Value) -> Result<Completion, String> {
    let count = |v: &Value| v.as_u64();
    match provider {
        Provider::Ollama => {
            // `/api/generate` answers in `response`, `/api/chat` in `message.content`.
            let output = json
                .get("response")
                .or_else(|| json.pointer("/message/content"))
                .and_then(Value::as_str)
                .ok_or("no `response` text in the Ollama answer")?;
            Ok(Completion {
                output: output.to_string(),
                prompt_tokens: json.get("prompt_eval_count").and_then(count),
                completion_tokens: json.get("eval_count").and_then(count),
                finish_reason: reason(json.get("done_reason")),
            })
        }
        Provider::Openai => {
            let output = json
                .pointer("/choices/0/message/content")
                .and_then(Value::as_str)
                .ok_or("no `choices[0].message.content` in the answer")?;
            Ok(Completion {
                output: output.to_string(),
                prompt_tokens: json.pointer("/usage/prompt_tokens").and_then(count),
                completion_tokens: json.pointer("/usage/completion_tokens").and_then(count),
                finish_reason: reason(json.pointer("/choices/0/finish_reason")),
            })
        }
    }
}

/// A finish reason as the server gave it: a short non-empty text, else nothing.
fn reason(v: Option<&Value>) -> Option<String> {
    let r = v?.as_str()?.trim();
    (!r.is_empty() && r.len() <= 64).then(|| r.to_string())
}

/// Remove the API key from an error's text, wherever a server or library echoed it.
#[cfg_attr(not(feature = "providers"), allow(dead_code))]
fn scrub(e: ProviderError, key: Option<&str>) -> ProviderError {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return e;
    };
    let clean = |s: String| s.replace(key, "[hidden]");
    match e {
        ProviderError::Connect { url, reason } => ProviderError::Connect {
            url: clean(url),
            reason: clean(reason),
        },
        ProviderError::Http { status, url, body } => ProviderError::Http {
            status,
            url: clean(url),
            body: clean(body),
        },
        ProviderError::Malformed { url, reason } => ProviderError::Malformed {
            url: clean(url),
            reason: clean(reason),
        },
        t @ ProviderError::Timeout(_) => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_documented_answers() {
        let o = parse_answer(
            Provider::Ollama,
            &json!({"model": "m", "response": "hi", "done": true, "prompt_eval_count": 12, "eval_count": 3}),
        )
        .expect("ollama");
        assert_eq!(
            (
                o.output.as_str(),
                o.prompt_tokens,
                o.completion_tokens,
                o.total_tokens()
            ),
            ("hi", Some(12), Some(3), Some(15))
        );
        let o = parse_answer(
            Provider::Openai,
            &json!({"choices": [{"message": {"role": "assistant", "content": "yo"}}], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}),
        )
        .expect("openai");
        assert_eq!((o.output.as_str(), o.total_tokens()), ("yo", Some(7)));
        assert_eq!(o.finish_reason, None, "not given");
        let o = parse_answer(
            Provider::Openai,
            &json!({"choices": [{"message": {"content": "cut"}, "finish_reason": "length"}]}),
        )
        .expect("openai");
        assert_eq!(o.finish_reason.as_deref(), Some("length"));
        let o = parse_answer(
            Provider::Ollama,
            &json!({"response": "cut", "done": true, "done_reason": "length"}),
        )
        .expect("ollama");
        assert_eq!(o.finish_reason.as_deref(), Some("length"));
        assert!(parse_answer(Provider::Openai, &json!({"choices": []})).is_err());
        let o = parse_answer(
            Provider::Ollama,
            &json!({"model": "m", "message": {"role": "assistant", "content": "chat"}, "done": true}),
        )
        .expect("ollama chat");
        assert_eq!(o.output, "chat");
    }

    #[test]
    fn the_key_is_scrubbed_and_hidden_from_debug() {
        let e = ProviderError::Http {
            status: 401,
            url: "u".into(),
            body: "bad key sk-123".into(),
        };
        assert_eq!(
            scrub(e, Some("sk-123")).to_string(),
            "HTTP 401 from u: bad key [hidden]"
        );
        let ep = Endpoint {
            provider: Provider::Openai,
            base_url: "u".into(),
            api_key: Some("sk-123".into()),
            timeout: Duration::from_secs(1),
        };
        assert!(!format!("{ep:?}").contains("sk-123"));
    }

    #[cfg(feature = "providers")]
    #[test]
    fn connection_refused_is_a_connect_error() {
        // Bind then drop: nothing listens on the port afterwards.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let ep = Endpoint {
            provider: Provider::Ollama,
            base_url: format!("http://127.0.0.1:{port}"),
            api_key: None,
            timeout: Duration::from_secs(5),
        };
        let (r, _) = complete(&ep, &json!({}));
        assert!(matches!(r, Err(ProviderError::Connect { .. })), "{r:?}");
    }
}
