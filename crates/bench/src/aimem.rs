//! `ai`, part 2: the server's memory while one edit streams a 5 MiB answer in 4 KiB SSE events.
//! Measured twice: with the server in this process (as the other benches run it; the peak then also
//! holds this client's copy of the final `ai:done` frame) and with the server in a child process
//! (`serve-load`, this binary re-executed), whose peak is the server's alone. The peak is reset first
//! (`5` into `/proc/<pid>/clear_refs`, Linux ≥ 4.0) so it is the peak of this edit, not of the run.

use crate::Server;
use crate::ai::{configure, job, notebook};
use crate::aimock::{Answer, Mock};
use crate::loadsrv::Spawned;
use anyhow::{Context, bail};
use serde_json::json;

const CODE_BYTES: usize = 5 << 20;
const CHUNK: usize = 4 << 10;
const RUNS: usize = 2;

/// `VmRSS` and `VmHWM` in KiB of `pid` (this process when `None`).
fn rss(pid: Option<u32>) -> anyhow::Result<(u64, u64)> {
    let who = pid.map_or("self".to_string(), |p| p.to_string());
    let status = std::fs::read_to_string(format!("/proc/{who}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let v = status.lines().find_map(|l| l.strip_prefix(name)).context("no such field")?;
        Ok(v.split_whitespace().next().context("empty")?.parse()?)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

fn reset_peak(pid: Option<u32>) -> bool {
    let who = pid.map_or("self".to_string(), |p| p.to_string());
    std::fs::write(format!("/proc/{who}/clear_refs"), "5").is_ok()
}

/// 5 MiB of 64-byte lines in a fence: `ai:done.output` must be exactly the lines.
fn answer_text() -> (String, String) {
    let mut code = String::with_capacity(CODE_BYTES);
    let mut i = 0;
    while code.len() < CODE_BYTES {
        // 64 bytes, no trailing blanks (the answer's code is trimmed at its end).
        code.push_str(&format!("console.log({i:>10}); // {:>35}\n", "streamed"));
        i += 1;
    }
    (format!("```ts\n{code}```\n"), code)
}

fn mib(kib: i64) -> f64 {
    kib as f64 / 1024.0
}

pub async fn run(mock: &Mock) -> anyhow::Result<()> {
    println!("\n2. one edit streaming a {} MiB answer in {} KiB SSE events", CODE_BYTES >> 20, CHUNK >> 10);
    let (text, code) = answer_text();
    let chunks: Vec<&str> =
        text.as_bytes().chunks(CHUNK).map(std::str::from_utf8).collect::<Result<_, _>>()?;
    println!(
        "{:<28} {:>5} {:>14} {:>16} {:>16} {:>12} {:>11}",
        "server", "run", "RSS before MiB", "peak growth MiB", "RSS after +MiB", "total ms", "first delta"
    );
    let s = crate::start().await?;
    measure(mock, &s, None, "in this process", &chunks, &text, &code).await?;
    drop(s);
    let child = Spawned::start().await?;
    let s = Server { base: child.base.clone(), http: child.http.clone(), _tmp: None };
    let pid = child.child.id();
    measure(mock, &s, Some(pid), &format!("child process (pid {pid})"), &chunks, &text, &code).await?;
    drop(s);
    child.stop();
    Ok(())
}

async fn measure(
    mock: &Mock,
    s: &Server,
    pid: Option<u32>,
    label: &str,
    chunks: &[&str],
    text: &str,
    code: &str,
) -> anyhow::Result<()> {
    configure(s, mock).await?;
    let (topic, mut ws) = notebook(s, "typescript", &[("c", "main.ts", "console.log(0);\n")]).await?;
    // A small edit first: the provider client, the job machinery and the allocator's arenas exist.
    mock.push(Answer::new(["```ts\n", "console.log(1);\n", "```\n"]));
    job(&mut ws, &topic, "ai:generate", json!({"jobId": "warm", "cellId": "c", "prompt": "p"})).await?;
    let mut deltas = 0;
    for run in 1..=RUNS {
        // Rendered before the baseline: the mock's copy of the answer is not the server's memory.
        mock.push(Answer::new(chunks.iter().copied()));
        if !reset_peak(pid) {
            println!("(could not reset the peak: VmHWM is the peak since the process started)");
        }
        let (before, _) = rss(pid)?;
        let payload = json!({"jobId": format!("big{run}"), "cellId": "c", "prompt": "a long file"});
        let j = job(&mut ws, &topic, "ai:generate", payload).await?;
        let (after, peak) = rss(pid)?;
        let output = j.done["output"].as_str().context("no output")?;
        if output.len() != code.len() || output != code {
            bail!("ai:done.output is {} bytes, want {} (the fenced code)", output.len(), code.len());
        }
        if j.delta_bytes != text.len() {
            bail!("the ai:delta frames carried {} bytes, want {}", j.delta_bytes, text.len());
        }
        deltas = j.deltas;
        let first = j.first_delta.map_or(0.0, |t| crate::ai::ms(t - j.sent));
        println!(
            "{label:<28} {run:>5} {:>14.1} {:>16.1} {:>16.1} {:>12.3} {:>8.3} ms",
            mib(before as i64),
            mib(peak as i64 - before as i64),
            mib(after as i64 - before as i64),
            crate::ai::ms(j.end - j.sent),
            first
        );
    }
    println!(
        "{:<28} each run: ai:done.output = {} bytes (right), {} bytes in {deltas} ai:delta frames ({} SSE text events)",
        "",
        code.len(),
        text.len(),
        chunks.len()
    );
    Ok(())
}
