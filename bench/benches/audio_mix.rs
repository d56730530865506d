//! Criterion: one 20 ms frame of a meeting's N-1 audio mix at 48 kHz (sum every talker once,
//! then render each listener's mix without their own voice).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mixer::audio::FRAME_SAMPLES;
use mixer::{MixInput, NMinusOneMixer, ParticipantId};
use std::hint::black_box;

/// `n` voices: tones of different pitch with a little noise, as loud as speech gets.
fn voices(n: usize) -> Vec<Vec<i16>> {
    (0..n)
        .map(|p| {
            let pitch = 110.0 + 37.0 * p as f64;
            let mut noise = 0x2545_F491_4F6C_DD1Du64.wrapping_mul(p as u64 + 1);
            (0..FRAME_SAMPLES)
                .map(|i| {
                    noise ^= noise << 13;
                    noise ^= noise >> 7;
                    noise ^= noise << 17;
                    let t = i as f64 / 48_000.0;
                    let tone = 8_000.0 * (2.0 * std::f64::consts::PI * pitch * t).sin();
                    (tone + (noise % 512) as f64 - 256.0) as i16
                })
                .collect()
        })
        .collect()
}

fn audio_mix(c: &mut Criterion) {
    let mut group = c.benchmark_group("audio_mix");
    for n in [10usize, 50] {
        let pcm = voices(n);
        let inputs: Vec<MixInput<'_>> = pcm
            .iter()
            .enumerate()
            .map(|(p, samples)| MixInput {
                participant: ParticipantId(p as u64),
                samples,
            })
            .collect();
        let mut mixer = NMinusOneMixer::new();
        let mut out = vec![0i16; FRAME_SAMPLES];
        group.bench_with_input(
            BenchmarkId::new("20ms_48k_mix_and_render_all", n),
            &inputs,
            |b, inputs| {
                b.iter(|| {
                    mixer.mix(black_box(inputs)).expect("valid frame");
                    for p in 0..n {
                        mixer
                            .render_for(ParticipantId(p as u64), &mut out)
                            .expect("valid length");
                        black_box(&out);
                    }
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, audio_mix);
criterion_main!(benches);
