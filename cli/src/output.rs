//! Checked output: every byte of a secret that leaves this process is written with `write_all`, flushed (and
//! for files fsync'd) and its failure reported — a token that could not be handed over must never be lost
//! silently. Rust starts binaries with SIGPIPE ignored, so a closed stdout is an `EPIPE` error here, not a
//! silent death; keep it that way (no `-Zon-broken-pipe=kill`, no `signal(SIGPIPE, SIG_DFL)`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `text` to stdout through one locked handle and flushes it; any failure (EPIPE, ENOSPC, EBADF…) is
/// returned.
pub fn stdout_all(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes text holding a secret to stdout (checked like [`stdout_all`]), then wipes it. Wiping is best effort:
/// the terminal, pipe buffers and the reader's memory are beyond this process.
pub fn stdout_secret(mut text: String) -> io::Result<()> {
    let result = stdout_all(&text);
    wipe(&mut text);
    result
}

/// Writes a JSON value holding a secret (the string at `pointer`) as one line on stdout, then wipes both
/// copies (best effort, as for [`stdout_secret`]).
pub fn stdout_secret_json(mut value: serde_json::Value, pointer: &str) -> io::Result<()> {
    let mut text = value.to_string();
    text.push('\n');
    let result = stdout_secret(text);
    if let Some(serde_json::Value::String(s)) = value.pointer_mut(pointer) {
        wipe(s);
    }
    result
}

/// Overwrites a string that held a secret with zeros and empties it (best effort).
pub fn wipe(s: &mut String) {
    let mut bytes = std::mem::take(s).into_bytes();
    bytes.iter_mut().for_each(|b| *b = 0);
    std::hint::black_box(&bytes);
}

/// A line of non-secret output on stdout, checked.
pub fn say(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// A message on stderr. A failure to write to stderr is ignored: there is nowhere left to report it, and
/// `eprintln!` would panic instead.
pub fn note(line: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
    let _ = err.write_all(b"\n");
    let _ = err.flush();
}

/// How writing a secret to a [`TokenFile`] failed.
#[derive(Debug)]
pub struct FileWriteError {
    /// Bytes of the secret that reached the file before the failure (all of them when only fsync failed).
    pub written: usize,
    /// Length of the whole secret, newline included.
    pub total: usize,
    pub error: io::Error,
}

impl FileWriteError {
    /// What the file holds now, for the user.
    pub fn describe(&self, path: &Path) -> String {
        if self.written == 0 {
            format!("nothing was written to {}, which was removed", path.display())
        } else if self.written < self.total {
            format!(
                "{} holds only {} of {} bytes: an incomplete copy that will not work as a token (it was kept, not removed)",
                path.display(),
                self.written,
                self.total
            )
        } else {
            format!(
                "{} holds the complete text, but it could not be flushed to disk: copy it to safe storage now",
                path.display()
            )
        }
    }
}

/// A file reserved for a secret before the request that produces the secret is sent.
///
/// Created with `O_CREAT|O_EXCL` (never overwrites, never follows a symlink — an existing symlink, even a
/// dangling one, is refused) and mode 0600. If nothing was ever written to it, it is removed when dropped
/// (only if the path still names the file this process created); once any byte was written it is kept,
/// because it may hold the only copy of a token.
pub struct TokenFile {
    path: PathBuf,
    file: Option<File>,
    written: usize,
    #[cfg(unix)]
    identity: (u64, u64),
}

impl TokenFile {
    /// Creates `path` exclusively, mode 0600.
    pub fn reserve(path: &Path) -> io::Result<Self> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        #[cfg(unix)]
        let identity = {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            // The umask can only take bits away; make it exactly 0600 through the descriptor.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            let meta = file.metadata()?;
            (meta.dev(), meta.ino())
        };
        Ok(TokenFile {
            path: path.to_path_buf(),
            file: Some(file),
            written: 0,
            #[cfg(unix)]
            identity,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `secret` and a newline, then fsyncs the file (and, best effort, its directory). May be called
    /// once; the file is closed afterwards.
    pub fn write_secret(&mut self, secret: &str) -> Result<(), FileWriteError> {
        let mut data = Vec::with_capacity(secret.len().saturating_add(1));
        data.extend_from_slice(secret.as_bytes());
        data.push(b'\n');
        let total = data.len();
        let result = self.write_and_sync(&data);
        // Wipe the copy (best effort: the compiler may not elide a write it cannot see being read, but it
        // is not guaranteed either).
        data.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&data);
        result.map_err(|error| {
            if self.written == 0 {
                self.remove_if_ours();
            }
            FileWriteError { written: self.written, total, error }
        })
    }

    fn write_and_sync(&mut self, data: &[u8]) -> io::Result<()> {
        let Some(mut file) = self.file.take() else {
            return Err(io::Error::other("the token file was already written"));
        };
        let mut rest = data;
        while !rest.is_empty() {
            match file.write(rest) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "the file accepted no more bytes")),
                Ok(n) => {
                    self.written = self.written.saturating_add(n);
                    rest = rest.get(n..).unwrap_or_default();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        file.flush()?;
        file.sync_all()?;
        drop(file);
        if let Some(dir) = self.path.parent() {
            let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    fn remove_if_ours(&mut self) {
        self.file = None;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            match std::fs::symlink_metadata(&self.path) {
                Ok(meta) if (meta.dev(), meta.ino()) == self.identity && meta.len() == 0 => {}
                _ => return,
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        if self.written == 0 {
            self.remove_if_ours();
        }
    }
}
