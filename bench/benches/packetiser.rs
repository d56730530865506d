//! Criterion: the gateway's H.264 RTP packetiser (RFC 6184, FU-A) at a 1200-byte payload on
//! real access units: a 720p IDR and a following P frame, encoded by the mixer's openh264
//! encoder from room-camera pictures.

use bench::content::room_frame;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mixer::codec::{EncoderConfig, H264Encoder};
use rtp_session::h264_rtp::Packetizer;
use std::hint::black_box;

fn packetiser(c: &mut Criterion) {
    let mut encoder = H264Encoder::new(EncoderConfig::hd720()).expect("720p encoder");
    let idr = encoder
        .encode(&room_frame(1280, 720, 5, 0.0), true)
        .expect("encodes");
    let p_frame = encoder
        .encode(&room_frame(1280, 720, 5, 0.1), false)
        .expect("encodes");
    let packetizer = Packetizer {
        max_payload: 1200,
        mode: 1,
    };
    let mut group = c.benchmark_group("packetiser");
    for (name, au) in [("720p_idr", &idr.data), ("720p_p", &p_frame.data)] {
        assert!(!au.is_empty(), "{name}: the encoder skipped the frame");
        group.throughput(Throughput::Bytes(au.len() as u64));
        let packets = packetizer.packetize(au).expect("mode 1 fragments").len();
        group.bench_with_input(
            BenchmarkId::new("mtu1200", format!("{name}_{}B_{packets}pkts", au.len())),
            au,
            |b, au| {
                b.iter(|| {
                    packetizer
                        .packetize(black_box(au))
                        .expect("mode 1 fragments")
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, packetiser);
criterion_main!(benches);
