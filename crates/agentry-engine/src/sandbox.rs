//! The Python sandbox: bubblewrap + prlimit + timeout (ARCHITECTURE.md, "Python sandbox recipe").
//!
//! Every run is `prlimit … -- timeout -s KILL {n} bwrap … {argv}`: own user, PID, IPC, UTS,
//! cgroup and (unless allowed) network namespaces, uid/gid 65534, no capabilities, read-only
//! `/usr` (and a read-only root), a private size-capped `/tmp`, and one writable host directory at
//! `/sandbox`. There is no unsandboxed fallback: when the tools are missing or bubblewrap cannot
//! create its namespaces, [`Sandbox::detect`] fails with the reason and callers report
//! `Sandbox unavailable: {reason}`.
//!
//! [`Sandbox::run`] is the generic entry point (the later `run_command` / `code_execute` tools use
//! it with their own commands and directories); [`Sandbox::run_python`] runs a snippet "as a
//! function body" with named JSON variables (the `code` node, engine.md §2).

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Default address-space limit of a run (512 MiB).
pub const DEFAULT_MEMORY_BYTES: u64 = 512 * 1024 * 1024;
/// Default wall-clock limit of a Python run in seconds (the `code` node's default).
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
/// How much of stdout and of stderr a run keeps (each); the rest is read and dropped.
pub const OUTPUT_CAP_BYTES: usize = 1024 * 1024;
/// Largest file a run may write (`RLIMIT_FSIZE`), which also bounds a Python result.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Size of the private `/tmp`.
pub const TMP_SIZE_BYTES: u64 = 64 * 1024 * 1024;
/// Open files per run (`RLIMIT_NOFILE`).
pub const MAX_OPEN_FILES: u64 = 64;
/// Longest accepted time limit (one hour).
pub const MAX_TIMEOUT_SECS: u64 = 3600;
/// Extra wall-clock time after which the engine itself kills a run whose `timeout` did not.
const BACKSTOP_GRACE: Duration = Duration::from_secs(5);
/// Where the Python runner writes its result envelope inside the sandbox.
const RESULT_DIR_IN_SANDBOX: &str = "/run/agentry";
const RESULT_FILE: &str = "result.json";
/// The only accepted interpreter (bound read-only from the host's `/usr`; never a shim).
pub const PYTHON: &str = "/usr/bin/python3";

/// Why a sandboxed run did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    /// The sandbox cannot run here (missing tools, no user namespaces, spawn failure).
    #[error("Sandbox unavailable: {0}")]
    Unavailable(String),
    /// The wall-clock (or CPU) limit was reached and the run was killed.
    #[error("Code execution timed out after {secs}s")]
    TimedOut { secs: u64 },
    /// The program exited with a non-zero status.
    #[error("Code execution failed (exit {exit_code}): {stderr}")]
    Failed { exit_code: i32, stderr: String },
}

/// A command to run in the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxCommand {
    /// Program and arguments as seen inside the sandbox (e.g. `["/usr/bin/python3", "-I", …]`).
    pub argv: Vec<String>,
    /// Host directory bound read-write at `/sandbox` (the working directory).
    pub workdir: PathBuf,
    /// Written to the program's stdin, which is then closed.
    pub stdin: Vec<u8>,
    /// Wall-clock limit (`timeout -s KILL`); also the CPU-seconds limit.
    pub timeout_secs: u64,
    /// Address-space limit (`prlimit --as`); 0 = [`DEFAULT_MEMORY_BYTES`].
    pub memory_bytes: u64,
    /// Share the host network namespace (otherwise the run has only its own loopback).
    pub allow_network: bool,
    /// Extra read-write binds `(host dir, path inside)`, mounted after `/sandbox`.
    pub extra_binds: Vec<(PathBuf, String)>,
}

impl SandboxCommand {
    /// A command with the default limits, no network, no stdin.
    pub fn new(argv: Vec<String>, workdir: impl Into<PathBuf>) -> Self {
        SandboxCommand {
            argv,
            workdir: workdir.into(),
            stdin: Vec::new(),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            allow_network: false,
            extra_binds: Vec::new(),
        }
    }
}

/// What a sandboxed command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxOutput {
    /// The program's exit code; death by signal `n` gives `128 + n`. Meaningless if `timed_out`.
    pub exit_code: i32,
    /// Killed for reaching its wall-clock or CPU limit.
    pub timed_out: bool,
    /// Captured stdout (at most [`OUTPUT_CAP_BYTES`]).
    pub stdout: Vec<u8>,
    /// Captured stderr (at most [`OUTPUT_CAP_BYTES`]).
    pub stderr: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    /// Wall-clock time from spawn to exit.
    pub duration: Duration,
}

/// A Python snippet to run as a function body.
#[derive(Debug, Clone)]
pub struct PythonRun {
    /// The function body (may `return`; top-level `print` output is captured).
    pub code: String,
    /// A JSON object; each key that is a Python identifier becomes a parameter of the function
    /// (the `code` node passes `{"state": …, "node_outputs": …}`).
    pub stdin_json: Value,
    pub timeout_secs: u64,
    pub memory_bytes: u64,
    pub allow_network: bool,
}

impl Default for PythonRun {
    fn default() -> Self {
        PythonRun {
            code: String::new(),
            stdin_json: Value::Object(Default::default()),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            memory_bytes: DEFAULT_MEMORY_BYTES,
            allow_network: false,
        }
    }
}

/// What a successful Python run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonOutput {
    /// The return value when it was not `None` (JSON-serialisable → that JSON, else its `str()`
    /// as a JSON string); otherwise the captured stdout as a string (trailing newlines removed).
    pub result: Value,
    /// Whether `result` is a return value (`false`: it is the captured stdout).
    pub returned: bool,
    /// Captured stdout, lossily decoded.
    pub stdout: String,
    /// Captured stderr, lossily decoded (warnings of a successful run).
    pub stderr: String,
    pub duration: Duration,
}

/// The sandbox of this machine: the host tools it runs with.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
    prlimit: PathBuf,
    timeout: PathBuf,
    /// Where fresh per-run directories are created.
    scratch_root: PathBuf,
}

/// Runs the snippet given on stdin as the body of a function whose parameters are the variables.
/// Passed with `-c`; reads `{"code", "variables"}` from stdin; writes `{"kind": "json"|"text"|"none",
/// "value"}` to the result file; a failure prints a traceback limited to the user's frames and
/// exits 1.
const PYTHON_RUNNER: &str = r#"
import ast, json, keyword, linecache, sys, traceback
def _agentry_fail(exc):
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != "<code>":
        tb = tb.tb_next
    if isinstance(exc, SyntaxError):
        sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
    else:
        traceback.print_exception(type(exc), exc, tb)
    sys.stderr.flush()
    sys.exit(1)
def _agentry_run():
    payload = json.loads(sys.stdin.buffer.read())
    src = payload["code"]
    variables = payload.get("variables") or {}
    if not isinstance(variables, dict):
        variables = {}
    names = [k for k in variables if k.isidentifier() and not keyword.iskeyword(k)]
    linecache.cache["<code>"] = (len(src), None, src.splitlines(True), "<code>")
    try:
        body = ast.parse(src, filename="<code>").body
    except SyntaxError as exc:
        _agentry_fail(exc)
    fn = ast.parse("def snippet(" + ", ".join(names) + "):\n    pass\n").body[0]
    fn.body = body or [ast.Pass()]
    module = ast.Module(body=[fn], type_ignores=[])
    ast.fix_missing_locations(module)
    scope = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(module, "<code>", "exec"), scope)
        result = scope["snippet"](*[variables[k] for k in names])
    except SystemExit:
        raise
    except BaseException as exc:
        _agentry_fail(exc)
    sys.stdout.flush()
    if result is None:
        envelope = '{"kind": "none"}'
    else:
        try:
            envelope = json.dumps({"kind": "json", "value": result}, allow_nan=False)
        except Exception:
            envelope = json.dumps({"kind": "text", "value": str(result)})
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.write(envelope)
_agentry_run()
"#;

static DETECTED: OnceLock<Result<Arc<Sandbox>, String>> = OnceLock::new();

impl Sandbox {
    /// The machine's sandbox, checked once per process: `bwrap`, `prlimit`, `timeout` and
    /// `/usr/bin/python3` must exist and a trivial sandboxed Python run must succeed. Blocks for
    /// that first run (~0.1 s); later calls return the cached answer.
    pub fn detect() -> Result<Arc<Sandbox>, SandboxError> {
        DETECTED
            .get_or_init(|| Self::probe().map(Arc::new))
            .clone()
            .map_err(SandboxError::Unavailable)
    }

    /// Checks the tools and makes one trivial run (not cached).
    fn probe() -> Result<Sandbox, String> {
        let find = |name: &str| {
            find_program(name).ok_or_else(|| format!("`{name}` not found (install it)"))
        };
        let sandbox = Sandbox {
            bwrap: find("bwrap")?,
            prlimit: find("prlimit")?,
            timeout: find("timeout")?,
            scratch_root: std::env::temp_dir(),
        };
        if !Path::new(PYTHON).exists() {
            return Err(format!("{PYTHON} not found"));
        }
        sweep_stale_scratch(&sandbox.scratch_root, STALE_SCRATCH);
        let workdir = ScratchDir::create(&sandbox.scratch_root)
            .map_err(|e| format!("cannot create a work directory: {e}"))?;
        let mut cmd = SandboxCommand::new(
            vec![
                PYTHON.into(),
                "-I".into(),
                "-c".into(),
                "print(6 * 7)".into(),
            ],
            workdir.sandbox_dir(),
        );
        cmd.timeout_secs = 20;
        let args = sandbox.command_line(&cmd);
        let out = std::process::Command::new(&args[0])
            .args(&args[1..])
            .stdin(Stdio::null())
            .env_clear()
            .output()
            .map_err(|e| format!("cannot start {}: {e}", args[0]))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && stdout.trim() == "42" {
            Ok(sandbox)
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(format!(
                "a trial bwrap run failed ({}): {}",
                out.status,
                stderr.trim()
            ))
        }
    }

    /// The full host command line for a sandboxed command (ARCHITECTURE.md recipe).
    fn command_line(&self, cmd: &SandboxCommand) -> Vec<String> {
        let secs = cmd.timeout_secs.clamp(1, MAX_TIMEOUT_SECS);
        let mut a: Vec<String> = vec![
            self.prlimit.display().to_string(),
            format!(
                "--as={}",
                if cmd.memory_bytes == 0 {
                    DEFAULT_MEMORY_BYTES
                } else {
                    cmd.memory_bytes
                }
            ),
            format!("--cpu={secs}"),
            format!("--fsize={MAX_FILE_BYTES}"),
            format!("--nofile={MAX_OPEN_FILES}"),
            "--".into(),
            self.timeout.display().to_string(),
            "-s".into(),
            "KILL".into(),
            secs.to_string(),
            self.bwrap.display().to_string(),
            "--unshare-all".into(),
            "--unshare-user".into(),
        ];
        if cmd.allow_network {
            a.push("--share-net".into());
        }
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        a.extend(s(&[
            "--uid",
            "65534",
            "--gid",
            "65534",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
        ]));
        if cmd.allow_network {
            // Name resolution needs the host's resolver configuration.
            for f in [
                "/etc/resolv.conf",
                "/etc/hosts",
                "/etc/nsswitch.conf",
                "/etc/ssl",
                "/etc/ca-certificates",
            ] {
                if Path::new(f).exists() {
                    a.extend(s(&["--ro-bind", f, f]));
                }
            }
        }
        a.extend(s(&[
            "--size",
            &TMP_SIZE_BYTES.to_string(),
            "--tmpfs",
            "/tmp",
        ]));
        a.extend([
            "--bind".into(),
            cmd.workdir.display().to_string(),
            "/sandbox".into(),
        ]);
        for (host, inside) in &cmd.extra_binds {
            a.extend(["--bind".into(), host.display().to_string(), inside.clone()]);
        }
        a.extend(s(&[
            "--remount-ro",
            "/",
            "--chdir",
            "/sandbox",
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/bin",
            "--setenv",
            "HOME",
            "/sandbox",
            "--",
        ]));
        a.extend(cmd.argv.iter().cloned());
        a
    }

    /// Runs a command in the sandbox and captures its output. `Err` only when it could not be
    /// started; a non-zero exit or a timeout is reported in the [`SandboxOutput`].
    pub async fn run(&self, cmd: SandboxCommand) -> Result<SandboxOutput, SandboxError> {
        let secs = cmd.timeout_secs.clamp(1, MAX_TIMEOUT_SECS);
        let args = self.command_line(&cmd);
        let started = Instant::now();
        let mut child = tokio::process::Command::new(&args[0])
            .args(&args[1..])
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SandboxError::Unavailable(format!("cannot start {}: {e}", args[0])))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(SandboxError::Unavailable("child pipes missing".into()));
        };
        let input = cmd.stdin;
        let write = async move {
            // The program may exit without reading: a broken pipe is fine.
            let _ = stdin.write_all(&input).await;
            drop(stdin);
        };
        let all = async {
            let ((), out, err, status) = tokio::join!(
                write,
                read_capped(stdout, OUTPUT_CAP_BYTES),
                read_capped(stderr, OUTPUT_CAP_BYTES),
                child.wait()
            );
            (out, err, status)
        };
        let backstop = Duration::from_secs(secs) + BACKSTOP_GRACE;
        let Ok(((stdout, stdout_truncated), (stderr, stderr_truncated), status)) =
            tokio::time::timeout(backstop, all).await
        else {
            // `timeout` did not fire (should not happen): kill it; bwrap dies with its parent.
            let _ = child.kill().await;
            return Ok(SandboxOutput {
                exit_code: 137,
                timed_out: true,
                stdout: Vec::new(),
                stderr: Vec::new(),
                stdout_truncated: false,
                stderr_truncated: false,
                duration: started.elapsed(),
            });
        };
        let status = status.map_err(|e| {
            SandboxError::Unavailable(format!("waiting for the sandbox failed: {e}"))
        })?;
        // `timeout -s KILL` kills its own process group, itself included, so our direct child
        // dies of SIGKILL; bwrap reports a program killed by signal n as exit 128 + n, and
        // SIGXCPU (24) means the CPU-seconds limit (= the time limit) was reached.
        let (exit_code, timed_out) = match (status.code(), status.signal()) {
            (Some(code), _) => (code, code == 128 + 24),
            (None, Some(sig)) => (128 + sig, sig == 9),
            (None, None) => (-1, false),
        };
        Ok(SandboxOutput {
            exit_code,
            timed_out,
            stdout,
            stderr,
            stdout_truncated,
            stderr_truncated,
            duration: started.elapsed(),
        })
    }

    /// Runs `script` with `shell -c` (e.g. `/bin/sh`, `/bin/bash`) with `workdir` bound at
    /// `/sandbox`, or in a fresh directory removed afterwards when `workdir` is `None` (tools
    /// `run_command` and `code_execute` with `language: bash`).
    pub async fn run_script(
        &self,
        shell: &str,
        script: &str,
        workdir: Option<&Path>,
        timeout_secs: u64,
        allow_network: bool,
    ) -> Result<SandboxOutput, SandboxError> {
        let scratch;
        let dir = match workdir {
            Some(d) => d.to_path_buf(),
            None => {
                scratch = ScratchDir::create(&self.scratch_root).map_err(|e| {
                    SandboxError::Unavailable(format!("cannot create a work directory: {e}"))
                })?;
                scratch.sandbox_dir()
            }
        };
        let mut cmd = SandboxCommand::new(vec![shell.into(), "-c".into(), script.into()], dir);
        cmd.timeout_secs = timeout_secs;
        cmd.allow_network = allow_network;
        self.run(cmd).await
    }

    /// Runs a Python snippet as a function body in a fresh `/sandbox` (engine.md §2, `code`).
    pub async fn run_python(&self, req: PythonRun) -> Result<PythonOutput, SandboxError> {
        let secs = req.timeout_secs.clamp(1, MAX_TIMEOUT_SECS);
        let scratch = ScratchDir::create(&self.scratch_root).map_err(|e| {
            SandboxError::Unavailable(format!("cannot create a work directory: {e}"))
        })?;
        let result_inside = format!("{RESULT_DIR_IN_SANDBOX}/{RESULT_FILE}");
        let payload = serde_json::json!({"code": req.code, "variables": req.stdin_json});
        let mut cmd = SandboxCommand::new(
            vec![
                PYTHON.into(),
                "-I".into(),
                "-c".into(),
                PYTHON_RUNNER.into(),
                result_inside,
            ],
            scratch.sandbox_dir(),
        );
        cmd.stdin = serde_json::to_vec(&payload).unwrap_or_default();
        cmd.timeout_secs = secs;
        cmd.memory_bytes = req.memory_bytes;
        cmd.allow_network = req.allow_network;
        cmd.extra_binds
            .push((scratch.result_dir(), RESULT_DIR_IN_SANDBOX.into()));
        let out = self.run(cmd).await?;
        if out.timed_out {
            return Err(SandboxError::TimedOut { secs });
        }
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut stderr = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
        if out.exit_code != 0 {
            // bubblewrap itself failed (e.g. no user namespaces any more): not the snippet's fault.
            if stderr.starts_with("bwrap: ") {
                return Err(SandboxError::Unavailable(stderr));
            }
            if stderr.is_empty() && out.exit_code > 128 {
                stderr = format!("killed by signal {}", out.exit_code - 128);
            }
            return Err(SandboxError::Failed {
                exit_code: out.exit_code,
                stderr,
            });
        }
        let envelope: Value = match std::fs::read(scratch.result_dir().join(RESULT_FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            // The snippet ended the interpreter itself (`sys.exit(0)`): no return value.
            Err(_) => Value::Null,
        };
        let (result, returned) = match envelope.get("kind").and_then(Value::as_str) {
            Some("json" | "text") => (envelope.get("value").cloned().unwrap_or(Value::Null), true),
            _ => (
                Value::String(stdout.trim_end_matches(['\n', '\r']).to_string()),
                false,
            ),
        };
        Ok(PythonOutput {
            result,
            returned,
            stdout,
            stderr,
            duration: out.duration,
        })
    }
}

/// Reads a pipe to its end, keeping at most `cap` bytes.
async fn read_capped<R: AsyncRead + Unpin>(mut r: R, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                if n > room {
                    truncated = true;
                }
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
    (kept, truncated)
}

/// A program on `PATH` (or the usual system directories).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Scratch directories untouched this long belong to no live run (a process killed with
/// SIGKILL cannot remove its own); the first sandbox use of a process removes them.
const STALE_SCRATCH: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes `agentry-sandbox-*` directories under `root` not modified for `older_than`;
/// returns how many.
fn sweep_stale_scratch(root: &Path, older_than: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with("agentry-sandbox-") {
            continue;
        }
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= older_than);
        if stale && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// A fresh per-run directory (`sandbox/` → `/sandbox`, `out/` → the result directory), removed
/// on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create(root: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let base = root.join(format!("agentry-sandbox-{}", ulid::Ulid::generate()));
        let mut b = std::fs::DirBuilder::new();
        b.mode(0o700);
        b.create(&base)?;
        let dir = ScratchDir(base);
        b.create(dir.sandbox_dir())?;
        b.create(dir.result_dir())?;
        Ok(dir)
    }
    fn sandbox_dir(&self) -> PathBuf {
        self.0.join("sandbox")
    }
    fn result_dir(&self) -> PathBuf {
        self.0.join("out")
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_scratch_directories_are_swept_and_fresh_ones_kept() {
        let root = std::env::temp_dir().join(format!("agentry-sweep-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&root).expect("root");
        let fresh = ScratchDir::create(&root).expect("scratch");
        std::fs::create_dir_all(root.join("unrelated")).expect("other");
        // Nothing is older than an hour: all kept.
        assert_eq!(
            sweep_stale_scratch(&root, std::time::Duration::from_secs(3600)),
            0
        );
        assert!(fresh.0.exists());
        // With a zero age every scratch directory is stale; other directories stay.
        assert_eq!(sweep_stale_scratch(&root, std::time::Duration::ZERO), 1);
        assert!(!fresh.0.exists());
        assert!(root.join("unrelated").exists());
        let _ = std::fs::remove_dir_all(&root);
    }

    fn fake(prlimit: &str) -> Sandbox {
        Sandbox {
            bwrap: "/usr/bin/bwrap".into(),
            prlimit: prlimit.into(),
            timeout: "/usr/bin/timeout".into(),
            scratch_root: std::env::temp_dir(),
        }
    }

    #[tokio::test]
    async fn a_sandbox_that_cannot_start_is_unavailable() {
        let err = fake("/nonexistent/prlimit")
            .run_python(PythonRun {
                code: "return 1".into(),
                ..Default::default()
            })
            .await
            .expect_err("cannot start");
        assert!(matches!(err, SandboxError::Unavailable(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("Sandbox unavailable: cannot start /nonexistent/prlimit"),
            "{err}"
        );
    }

    #[test]
    fn the_command_line_follows_the_recipe() {
        let sb = fake("/usr/bin/prlimit");
        let mut cmd = SandboxCommand::new(vec![PYTHON.into(), "-I".into()], "/w");
        cmd.timeout_secs = 7;
        let line = sb.command_line(&cmd).join(" ");
        assert!(line.starts_with("/usr/bin/prlimit --as=536870912 --cpu=7 --fsize=10485760 --nofile=64 -- /usr/bin/timeout -s KILL 7 /usr/bin/bwrap --unshare-all --unshare-user --uid 65534 --gid 65534 --die-with-parent --new-session --cap-drop ALL --ro-bind /usr /usr"), "{line}");
        assert!(line.contains("--bind /w /sandbox"), "{line}");
        assert!(line.contains("--remount-ro / --chdir /sandbox --clearenv --setenv PATH /usr/bin --setenv HOME /sandbox -- /usr/bin/python3 -I"), "{line}");
        assert!(!line.contains("--share-net"), "{line}");
        cmd.allow_network = true;
        cmd.memory_bytes = 0;
        let line = sb.command_line(&cmd).join(" ");
        assert!(
            line.contains("--unshare-all --unshare-user --share-net"),
            "{line}"
        );
        assert!(line.contains("--as=536870912"), "{line}");
    }

    #[test]
    fn missing_programs_are_not_found() {
        assert!(find_program("agentry-no-such-program").is_none());
        assert!(find_program("sh").is_some());
    }
}
