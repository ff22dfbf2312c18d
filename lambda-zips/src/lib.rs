//! Runs a built Lambda zip as Lambda does, for the tests in `tests/`: [`read_bootstrap`] takes
//! `bootstrap` out of the zip with its mode, [`RuntimeApi`] serves the Lambda Runtime API on a
//! loopback port, and [`Function`] starts `bootstrap` against it with the environment Lambda
//! gives a function and invokes it with events. An arm64 `bootstrap` on an x86_64 host runs under
//! Debian's qemu-user (`qemu-aarch64 -L /usr/aarch64-linux-gnu`, packages qemu-user and
//! libc6-arm64-cross).
//!
//! The Runtime API is the one documented at
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>: `GET .../invocation/next`
//! hands out the next event with its request id, deadline and function ARN headers; the function
//! answers with `POST .../invocation/{id}/response` or `.../error`, or reports a failed start
//! with `POST .../init/error`.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{oneshot, watch, Notify};

/// The Runtime API's version prefix.
const API: &str = "/2018-06-01/runtime";
/// The account in the ARNs handed to the function (AWS's documentation placeholder).
pub const ACCOUNT_ID: &str = "123456789012";
/// Where Debian's libc6-arm64-cross puts the arm64 dynamic loader and glibc; qemu-user's `-L`.
pub const ARM64_SYSROOT: &str = "/usr/aarch64-linux-gnu";
const EM_AARCH64: u16 = 183;
const EM_X86_64: u16 = 62;

/// `bootstrap` from a Lambda zip, and its Unix mode as the zip records it.
pub struct Bootstrap {
    pub data: Vec<u8>,
    pub mode: u32,
}

/// Reads `bootstrap` at the root of a zip (stored or deflated; what `cargo lambda` writes).
pub fn read_bootstrap(zip: &Path) -> Result<Bootstrap, String> {
    let bytes = std::fs::read(zip).map_err(|e| format!("cannot read {}: {e}", zip.display()))?;
    let bad = |what: &str| format!("{} is not a zip file Lambda accepts: {what}", zip.display());
    let u16_at = |at: usize| -> Result<u16, String> {
        Ok(u16::from_le_bytes(
            bytes
                .get(at..at + 2)
                .ok_or_else(|| bad("truncated"))?
                .try_into()
                .unwrap(),
        ))
    };
    let u32_at = |at: usize| -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            bytes
                .get(at..at + 4)
                .ok_or_else(|| bad("truncated"))?
                .try_into()
                .unwrap(),
        ))
    };
    // The end-of-central-directory record is in the last 22 + 65,535 (comment) bytes.
    let lowest = bytes.len().saturating_sub(22 + u16::MAX as usize);
    let eocd = (lowest..bytes.len().saturating_sub(21))
        .rev()
        .find(|&at| bytes[at..at + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or_else(|| bad("no end of central directory"))?;
    let entries = u16_at(eocd + 10)?;
    let mut at = u32_at(eocd + 16)? as usize;
    for _ in 0..entries {
        if u32_at(at)? != 0x0201_4b50 {
            return Err(bad("broken central directory"));
        }
        let method = u16_at(at + 10)?;
        let compressed = u32_at(at + 20)? as usize;
        let size = u32_at(at + 24)? as usize;
        let name_len = u16_at(at + 28)? as usize;
        let extra_len = u16_at(at + 30)? as usize;
        let comment_len = u16_at(at + 32)? as usize;
        let mode = u32_at(at + 38)? >> 16;
        let local = u32_at(at + 42)? as usize;
        let name = bytes
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| bad("truncated"))?;
        if name == b"bootstrap" {
            if u32_at(local)? != 0x0403_4b50 {
                return Err(bad("broken local header"));
            }
            let start = local + 30 + u16_at(local + 26)? as usize + u16_at(local + 28)? as usize;
            let raw = bytes
                .get(start..start + compressed)
                .ok_or_else(|| bad("truncated"))?;
            let data = match method {
                0 => raw.to_vec(),
                8 => {
                    let mut out = Vec::with_capacity(size);
                    flate2::read::DeflateDecoder::new(raw)
                        .read_to_end(&mut out)
                        .map_err(|e| bad(&format!("bootstrap does not inflate: {e}")))?;
                    out
                }
                other => return Err(bad(&format!("compression method {other}"))),
            };
            return Ok(Bootstrap { data, mode });
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    Err(format!("{} has no bootstrap at its root", zip.display()))
}

/// How the function answered one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`: the handler's result.
    Response(String),
    /// `POST /invocation/{id}/error`: the handler failed (a panic included).
    Error {
        error_type: Option<String>,
        body: String,
    },
    /// `POST /init/error`: the function could not start.
    InitError(String),
    /// The process ended before answering (a panic with `panic = "abort"`, a missing library...).
    Exited(String),
    /// No answer within the invocation's timeout.
    TimedOut,
}

struct Pending {
    id: String,
    event: Vec<u8>,
    deadline_ms: u128,
    answer: oneshot::Sender<Outcome>,
}

#[derive(Default)]
struct Queue {
    events: VecDeque<Pending>,
    // Invocations handed out and not answered yet, by request id.
    running: HashMap<String, oneshot::Sender<Outcome>>,
    init_error: Option<String>,
}

struct ApiState {
    queue: Mutex<Queue>,
    arrived: Notify,
    function_arn: String,
}

fn lock(state: &ApiState) -> std::sync::MutexGuard<'_, Queue> {
    state.queue.lock().unwrap_or_else(|e| e.into_inner())
}

async fn next(State(api): State<Arc<ApiState>>) -> (HeaderMap, Vec<u8>) {
    loop {
        let notified = api.arrived.notified();
        let pending = lock(&api).events.pop_front();
        if let Some(p) = pending {
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", p.id.parse().unwrap());
            headers.insert(
                "lambda-runtime-deadline-ms",
                p.deadline_ms.to_string().parse().unwrap(),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                api.function_arn.parse().unwrap(),
            );
            headers.insert(
                "lambda-runtime-trace-id",
                format!("Root=1-00000000-{:024x};Sampled=0", p.deadline_ms)
                    .parse()
                    .unwrap(),
            );
            headers.insert("content-type", "application/json".parse().unwrap());
            lock(&api).running.insert(p.id, p.answer);
            return (headers, p.event);
        }
        // No invocation yet: the call waits, as Lambda's does between invocations.
        notified.await;
    }
}

async fn answer(
    State(api): State<Arc<ApiState>>,
    UrlPath((id, kind)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, &'static str) {
    let outcome = match kind.as_str() {
        "response" => Outcome::Response(body),
        "error" => Outcome::Error {
            error_type: headers
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body,
        },
        _ => return (StatusCode::NOT_FOUND, "unknown path"),
    };
    match lock(&api).running.remove(&id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            (StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        // Lambda answers 400 to an answer for an unknown (or already answered) request id.
        None => (StatusCode::BAD_REQUEST, r#"{"errorType":"InvalidRequestID"}"#),
    }
}

async fn init_error(State(api): State<Arc<ApiState>>, body: String) -> (StatusCode, &'static str) {
    let mut queue = lock(&api);
    queue.init_error = Some(body.clone());
    for (_, tx) in queue.running.drain() {
        let _ = tx.send(Outcome::InitError(body.clone()));
    }
    for p in queue.events.drain(..) {
        let _ = p.answer.send(Outcome::InitError(body.clone()));
    }
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

/// A Lambda Runtime API on a free loopback port, for one function.
pub struct RuntimeApi {
    addr: SocketAddr,
    state: Arc<ApiState>,
    server: tokio::task::JoinHandle<()>,
    next_id: std::sync::atomic::AtomicU64,
}

impl RuntimeApi {
    pub async fn start(function_arn: String) -> std::io::Result<Self> {
        let state = Arc::new(ApiState {
            queue: Mutex::default(),
            arrived: Notify::new(),
            function_arn,
        });
        let app = Router::new()
            .route(&format!("{API}/invocation/next"), get(next))
            .route(&format!("{API}/invocation/{{id}}/{{kind}}"), post(answer))
            .route(&format!("{API}/init/error"), post(init_error))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            state,
            server,
            next_id: 0.into(),
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event; the receiver gets the function's answer.
    fn enqueue(&self, event: Vec<u8>, timeout: Duration) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        let n = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let deadline = SystemTime::now() + timeout;
        let mut queue = lock(&self.state);
        if let Some(e) = &queue.init_error {
            let _ = tx.send(Outcome::InitError(e.clone()));
            return rx;
        }
        queue.events.push_back(Pending {
            id: format!("00000000-0000-4000-8000-{n:012}"),
            event,
            deadline_ms: deadline.duration_since(UNIX_EPOCH).unwrap().as_millis(),
            answer: tx,
        });
        drop(queue);
        self.state.arrived.notify_waiters();
        rx
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A function's settings, as its Lambda configuration would give them.
pub struct FunctionConfig {
    pub name: String,
    pub region: String,
    pub memory_mb: u32,
    /// Each invocation's timeout (the function's `Timeout`).
    pub timeout: Duration,
    /// The function's environment variables (its `Environment`), on top of Lambda's own.
    pub env: Vec<(String, String)>,
}

/// A running `bootstrap`, unpacked from its zip into a fresh task directory.
pub struct Function {
    api: RuntimeApi,
    timeout: Duration,
    logs: Arc<Mutex<String>>,
    exited: watch::Receiver<Option<String>>,
    kill: Option<oneshot::Sender<()>>,
    monitor: Option<tokio::task::JoinHandle<()>>,
    _task_root: tempfile::TempDir,
}

impl Function {
    /// Unpacks `bootstrap` with the mode the zip gives it and starts it as Lambda would: in its
    /// task directory, with Lambda's runtime environment variables
    /// (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime>)
    /// and `config.env`. Does not wait for it to ask for an event.
    pub async fn start(zip: &Path, config: FunctionConfig) -> Result<Function, String> {
        use std::os::unix::fs::PermissionsExt;

        let bootstrap = read_bootstrap(zip)?;
        // Lambda runs `bootstrap` as a user that does not own it, so it needs read and execute
        // for others (https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-deployment.html);
        // this test runs as its owner, or as root, or under qemu, all of which would let it run.
        if bootstrap.mode & 0o005 != 0o005 {
            return Err(format!(
                "bootstrap in {} has mode {:04o}: Lambda could not run it (permission denied)",
                zip.display(),
                bootstrap.mode & 0o7777
            ));
        }
        let task_root = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        let path = task_root.path().join("bootstrap");
        std::fs::write(&path, &bootstrap.data)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bootstrap.mode & 0o7777))
            .map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
        let mut command = command_for(&path, &bootstrap.data)?;

        let function_arn = format!(
            "arn:aws:lambda:{}:{ACCOUNT_ID}:function:{}",
            config.region, config.name
        );
        let api = RuntimeApi::start(function_arn)
            .await
            .map_err(|e| format!("cannot start the Runtime API: {e}"))?;
        let lambda_env = [
            ("AWS_LAMBDA_RUNTIME_API", api.address()),
            ("AWS_LAMBDA_FUNCTION_NAME", config.name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", config.memory_mb.to_string()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", config.name),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/01/01/[$LATEST]00000000000000000000000000000000".into(),
            ),
            ("AWS_REGION", config.region.clone()),
            ("AWS_DEFAULT_REGION", config.region.clone()),
            ("LAMBDA_TASK_ROOT", task_root.path().display().to_string()),
            ("LAMBDA_RUNTIME_DIR", task_root.path().display().to_string()),
            ("_HANDLER", "bootstrap".into()),
            ("TZ", ":UTC".into()),
            ("LANG", "en_US.UTF-8".into()),
            ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
        ];
        command
            .env_clear()
            .envs(lambda_env)
            .envs(config.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(task_root.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;

        // stdout and stderr are the function's CloudWatch log; collected so a test can read it.
        let logs = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = logs.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut logs = logs.lock().unwrap_or_else(|e| e.into_inner());
                    logs.push_str(&line);
                    logs.push('\n');
                }
            });
        }
        let (exited_tx, exited) = watch::channel(None);
        let (kill, killed) = oneshot::channel::<()>();
        let monitor = tokio::spawn(async move {
            tokio::select! {
                status = child.wait() => {
                    let _ = exited_tx.send(Some(match status {
                        Ok(s) => s.to_string(),
                        Err(e) => e.to_string(),
                    }));
                }
                _ = killed => {
                    let _ = child.kill().await;
                }
            }
        });
        Ok(Function {
            api,
            timeout: config.timeout,
            logs,
            exited,
            kill: Some(kill),
            monitor: Some(monitor),
            _task_root: task_root,
        })
    }

    /// Sends one event and waits for the function's answer, its exit, or the timeout.
    pub async fn invoke(&self, event: &[u8]) -> Outcome {
        let answer = self.api.enqueue(event.to_vec(), self.timeout);
        let mut exited = self.exited.clone();
        let exit = async move {
            let status = exited
                .wait_for(Option::is_some)
                .await
                .map(|s| s.clone().unwrap_or_default())
                .unwrap_or_else(|_| "unknown".into());
            // Let the log readers take the last lines the process wrote.
            tokio::time::sleep(Duration::from_millis(200)).await;
            status
        };
        tokio::select! {
            outcome = answer => outcome.unwrap_or(Outcome::TimedOut),
            status = exit => Outcome::Exited(status),
            _ = tokio::time::sleep(self.timeout) => Outcome::TimedOut,
        }
    }

    /// Everything the function wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops the process (as Lambda freezes and later ends an environment) and returns its log.
    pub async fn stop(mut self) -> String {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        if let Some(monitor) = self.monitor.take() {
            let _ = monitor.await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.logs()
    }
}

/// The command that runs `bootstrap` here: directly when it is built for this machine, under
/// qemu-user when it is an arm64 binary on an x86_64 host (or the other way round).
fn command_for(path: &Path, elf: &[u8]) -> Result<tokio::process::Command, String> {
    if elf.len() < 20 || elf[..4] != *b"\x7fELF" {
        return Err(format!("{} is not an ELF executable", path.display()));
    }
    let machine = u16::from_le_bytes([elf[18], elf[19]]);
    let native = match std::env::consts::ARCH {
        "x86_64" => EM_X86_64,
        "aarch64" => EM_AARCH64,
        other => return Err(format!("no way to run Lambda binaries on a {other} host")),
    };
    if machine == native {
        return Ok(tokio::process::Command::new(path));
    }
    let (qemu, sysroot) = match machine {
        EM_AARCH64 => ("qemu-aarch64", ARM64_SYSROOT),
        EM_X86_64 => ("qemu-x86_64", "/usr/x86_64-linux-gnu"),
        other => {
            return Err(format!(
                "{} is for ELF machine {other}, which Lambda does not run",
                path.display()
            ))
        }
    };
    let qemu_path = find_in_path(qemu).ok_or_else(|| {
        format!(
            "{qemu} not found: running a bootstrap built for another architecture needs Debian's \
             qemu-user and its C library (apt-get install qemu-user libc6-arm64-cross)"
        )
    })?;
    if !Path::new(sysroot).is_dir() {
        return Err(format!(
            "{sysroot} not found: {qemu} needs the target's glibc (apt-get install libc6-arm64-cross)"
        ));
    }
    let mut command = tokio::process::Command::new(qemu_path);
    command.arg("-L").arg(sysroot).arg(path);
    Ok(command)
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}
