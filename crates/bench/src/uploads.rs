//! `load-uploads [--count 1000] [--min-kib 4] [--max-kib 64]`: `count` small multipart uploads to
//! `POST /files`, all started at once against a release server in its own process; then every file is
//! downloaded (also all at once) and compared byte for byte.

use super::loadsrv::{Samples, Spawned, check_fd_limit, loadavg, opt};
use anyhow::{Context, bail};
use std::time::Instant;

/// Deterministic, distinct contents (xorshift from the index), so no two uploads dedup.
fn content(i: u64, min: u64, max: u64) -> Vec<u8> {
    let mut x = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let len = (min + x % (max - min + 1)) as usize;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

async fn upload(http: &reqwest::Client, base: &str, name: String, data: Vec<u8>) -> anyhow::Result<String> {
    let part = reqwest::multipart::Part::bytes(data).file_name(name).mime_str("application/octet-stream")?;
    let form = reqwest::multipart::Form::new().part("file", part);
    let r = http.post(format!("{base}/files")).multipart(form).send().await?;
    let status = r.status();
    let v: serde_json::Value = r.json().await?;
    if !status.is_success() {
        bail!("upload: {status} {v}");
    }
    Ok(v["file_id"].as_str().context("no file_id")?.to_string())
}

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let count: u64 = opt(args, "--count", 1000)?;
    let min = opt(args, "--min-kib", 4u64)? * 1024;
    let max = opt(args, "--max-kib", 64u64)?.max(1) * 1024;
    let min = min.min(max);
    check_fd_limit(count + 256)?;
    let srv = Spawned::start().await?;
    let (idle_rss, _) = srv.rss_kib();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..count {
        let (http, base) = (srv.http.clone(), srv.base.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let id = upload(&http, &base, format!("f{i}.bin"), content(i, min, max)).await;
            (id, t.elapsed())
        }));
    }
    let mut lat = Samples::default();
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    let mut bytes = 0u64;
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await? {
            (Ok(id), d) => {
                lat.push(d);
                bytes += content(i as u64, min, max).len() as u64;
                ids.push((i as u64, id));
            }
            (Err(e), _) => errors.push(format!("upload {i}: {e:#}")),
        }
    }
    let up_wall = t.elapsed();
    let (_, hwm) = srv.rss_kib();

    let t = Instant::now();
    let mut tasks = Vec::new();
    for (i, id) in ids {
        let (http, base) = (srv.http.clone(), srv.base.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let got = async {
                let r = http.get(format!("{base}/files/{id}")).send().await?;
                if !r.status().is_success() {
                    bail!("download {id}: {}", r.status());
                }
                anyhow::Ok(r.bytes().await?)
            }
            .await;
            let d = t.elapsed();
            match got {
                Ok(b) if b[..] == content(i, min, max)[..] => Ok(d),
                Ok(_) => Err(format!("download {i} ({id}) is not byte-exact")),
                Err(e) => Err(format!("download {i}: {e:#}")),
            }
        }));
    }
    let mut down = Samples::default();
    for task in tasks {
        match task.await? {
            Ok(d) => down.push(d),
            Err(e) => errors.push(e),
        }
    }
    let down_wall = t.elapsed();

    println!(
        "load-uploads: {count} concurrent multipart uploads of {}-{} KiB ({:.1} MiB in all) to a release \
         server in its own process on 127.0.0.1; 2-core machine shared with this driver",
        min / 1024,
        max / 1024,
        bytes as f64 / (1 << 20) as f64
    );
    println!("  uploads: {:.2} s wall for all (each durable before its reply)", up_wall.as_secs_f64());
    lat.print("per upload", up_wall.as_secs_f64());
    println!("  downloads, byte-exact check: {:.2} s wall", down_wall.as_secs_f64());
    down.print("per download", down_wall.as_secs_f64());
    println!(
        "  server RSS: {:.1} MiB before, VmHWM {:.1} MiB (server process only)",
        idle_rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!("  machine load average (1 min) at the end: {}", loadavg());
    println!("  errors: {}", errors.len());
    for e in errors.iter().take(10) {
        println!("    {e}");
    }
    srv.stop();
    if !errors.is_empty() {
        bail!("{} errors", errors.len());
    }
    Ok(())
}
