//! `files` benchmark: a real server on 127.0.0.1:0; upload (multipart and tus) and download throughput
//! for one large file streamed from a generator (never held in memory), the new chunk data stored by a
//! re-upload with a small edit in the middle, peak process RSS above idle during the upload, and many
//! concurrent 10 MiB uploads.

use anyhow::{Context, bail};
use futures_util::StreamExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;
const PIECE: usize = 1 << 20;

/// Deterministic incompressible bytes; `edit` replaces one MiB-aligned region with other bytes.
fn piece(seed: u64, index: u64, edit: Option<u64>) -> Vec<u8> {
    let mut x = (seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1;
    if edit == Some(index) {
        x = x.wrapping_mul(31) | 1;
    }
    let mut out = Vec::with_capacity(PIECE);
    while out.len() < PIECE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

fn body(seed: u64, mib: u64, edit: Option<u64>) -> reqwest::Body {
    let s = futures_util::stream::iter(0..mib).map(move |i| Ok::<_, std::io::Error>(piece(seed, i, edit)));
    reqwest::Body::wrap_stream(s)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_bytes(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn mib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / MIB as f64 / d.as_secs_f64()
}

async fn multipart(s: &Target, seed: u64, mib: u64, edit: Option<u64>) -> anyhow::Result<String> {
    let part = reqwest::multipart::Part::stream_with_length(body(seed, mib, edit), mib * MIB)
        .file_name("bench.bin")
        .mime_str("application/octet-stream")?;
    let form = reqwest::multipart::Form::new().part("file", part);
    let r = s.http.post(format!("{}/files", s.base)).multipart(form).send().await?;
    let status = r.status();
    let v: serde_json::Value = r.json().await?;
    if !status.is_success() {
        bail!("upload failed: {status} {v}");
    }
    Ok(v["file_id"].as_str().context("no file_id")?.to_string())
}

async fn tus(s: &Target, seed: u64, mib: u64) -> anyhow::Result<String> {
    let r = s
        .http
        .post(format!("{}/uploads/", s.base))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", (mib * MIB).to_string())
        .send()
        .await?;
    let loc = r.headers().get("location").context("no Location")?.to_str()?.to_string();
    let r = s
        .http
        .patch(format!("{}{loc}", s.base))
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .header("content-length", (mib * MIB).to_string())
        .body(body(seed, mib, None))
        .send()
        .await?;
    if r.status() != 204 {
        bail!("tus PATCH: {}", r.status());
    }
    Ok(r.headers().get("x-file-id").context("no X-File-Id")?.to_str()?.to_string())
}

/// Download and check every byte against the generator.
async fn download(s: &Target, id: &str, seed: u64, mib: u64) -> anyhow::Result<u64> {
    let r = s.http.get(format!("{}/files/{id}", s.base)).send().await?;
    if !r.status().is_success() {
        bail!("download: {}", r.status());
    }
    let mut stream = r.bytes_stream();
    let (mut got, mut want) = (blake3::Hasher::new(), blake3::Hasher::new());
    let mut n = 0u64;
    while let Some(b) = stream.next().await {
        let b = b?;
        n += b.len() as u64;
        got.update(&b);
    }
    for i in 0..mib {
        want.update(&piece(seed, i, None));
    }
    if n != mib * MIB || got.finalize() != want.finalize() {
        bail!("download of {id} is not byte-exact");
    }
    Ok(n)
}

/// Where requests go (cheap to clone into concurrent tasks).
#[derive(Clone)]
struct Target {
    base: String,
    http: reqwest::Client,
}

pub async fn run(mib: u64) -> anyhow::Result<()> {
    let server = super::start().await?;
    let chunks = quire_stdx::DataDir::new(server._tmp.as_ref().context("data dir")?.path()).files().chunks();
    let s = Target { base: server.base.clone(), http: server.http.clone() };
    let idle = rss_kib();
    let peak = Arc::new(AtomicU64::new(idle));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let t = Instant::now();
    let id = multipart(&s, 1, mib, None).await?;
    let up = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    println!("file store, {mib} MiB incompressible file over loopback HTTP (durable before the reply)");
    println!("  multipart upload:   {:>8.1} MiB/s", mib_s(mib * MIB, up));
    println!(
        "  peak RSS during the upload: {:.1} MiB above idle (process: server + client generator)",
        (peak.load(Ordering::Relaxed).saturating_sub(idle)) as f64 / 1024.0
    );
    let t = Instant::now();
    let n = download(&s, &id, 1, mib).await?;
    let down = t.elapsed();
    // The check above also re-generates the data on the client; time the transfer alone as well.
    let t = Instant::now();
    let r = s.http.get(format!("{}/files/{id}", s.base)).send().await?;
    let mut stream = r.bytes_stream();
    let mut m = 0u64;
    while let Some(b) = stream.next().await {
        m += b?.len() as u64;
    }
    let down_only = t.elapsed();
    println!("  download (verified per chunk on the server): {:>8.1} MiB/s", mib_s(m, down_only));
    println!("  download + client-side byte check: {:>8.1} MiB/s", mib_s(n, down));

    let t = Instant::now();
    let tid = tus(&s, 2, mib).await?;
    println!("  tus upload (one PATCH): {:>8.1} MiB/s", mib_s(mib * MIB, t.elapsed()));
    download(&s, &tid, 2, mib).await?;

    let before = dir_bytes(&chunks);
    multipart(&s, 1, mib, Some(mib / 2)).await?;
    let added = dir_bytes(&chunks) - before;
    println!(
        "  re-upload with 1 MiB changed in the middle: {:.2} MiB new chunk data ({:.2}% of the file)",
        added as f64 / MIB as f64,
        added as f64 * 100.0 / (mib * MIB) as f64
    );

    let count = 100u64;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..count {
        let srv = s.clone();
        tasks.push(tokio::spawn(async move {
            let id = multipart(&srv, 100 + i, 10, None).await?;
            download(&srv, &id, 100 + i, 10).await
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!(
        "  {count} concurrent 10 MiB uploads, each downloaded and checked: {:.2} s wall",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
