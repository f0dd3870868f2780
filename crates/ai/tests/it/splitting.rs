//! The answer comes out the same however the provider's bytes are cut: one byte at a time (inside
//! every multi-byte character and every CRLF), at scattered offsets, with CRLF line ends,
//! multi-line `data:` fields and keep-alive comments.

use quire_ai::mock::{Split, StreamScript};
use quire_ai::{ChatRequest, FinishReason};

use crate::{FORMATS, client, endpoint, mock};

const CHUNKS: [&str; 4] = ["h\u{e9}llo ", "\u{1F30D} ", "\u{4E16}\u{754C}", " \"quoted\", {braced}\n"];

fn scattered_offsets(seed: u64) -> Vec<usize> {
    // A small LCG: the same offsets every run, different for each seed.
    let mut state = seed;
    (0..60)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize % 3000
        })
        .collect()
}

async fn answer_with(script: impl Fn() -> StreamScript) {
    let mock = mock().await;
    for format in FORMATS {
        mock.push(script());
        let stream = client().chat(&endpoint(&mock, format, "k"), &ChatRequest::new("m", "p")).await.unwrap();
        let answer = stream.collect().await.unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(answer.text, CHUNKS.concat(), "{format:?}");
        assert_eq!(answer.finish, FinishReason::Stop, "{format:?}");
        assert_eq!(answer.usage.output_tokens, Some(7), "{format:?}");
    }
}

#[tokio::test]
async fn one_byte_at_a_time_in_every_format() {
    answer_with(|| StreamScript::new(CHUNKS).split(Split::Every(1))).await;
}

#[tokio::test]
async fn crlf_line_ends_split_between_cr_and_lf() {
    answer_with(|| StreamScript::new(CHUNKS).crlf().split(Split::Every(1))).await;
}

#[tokio::test]
async fn multi_line_data_fields_are_joined() {
    answer_with(|| StreamScript::new(CHUNKS).multiline_data().crlf().split(Split::Every(3))).await;
}

#[tokio::test]
async fn scattered_cuts_with_many_seeds() {
    for seed in 1..=8 {
        answer_with(|| StreamScript::new(CHUNKS).split(Split::At(scattered_offsets(seed)))).await;
    }
}
