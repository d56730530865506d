//! Criterion: the mixer's scaler on each backend this CPU has, for the two inputs a 3x3 tile
//! sees most (1280x720 and 640x360 -> 426x240), on room-camera content.

use bench::content::room_frame;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mixer::{Backend, I420Frame, TileScaler};
use std::hint::black_box;

fn scaler(c: &mut Criterion) {
    let mut group = c.benchmark_group("scaler");
    for (w, h) in [(1280, 720), (640, 360)] {
        let src = room_frame(w, h, 3, 0.0);
        group.throughput(Throughput::Elements(u64::from(w * h)));
        for backend in [
            Backend::Scalar,
            Backend::Sse2,
            Backend::Ssse3,
            Backend::Avx2,
        ] {
            if !backend.is_available() {
                continue;
            }
            let mut scaler = TileScaler::new(w, h, 426, 240)
                .and_then(|s| s.with_backend(backend))
                .expect("valid sizes, available backend");
            let mut dst = I420Frame::new(426, 240).expect("valid size");
            group.bench_with_input(
                BenchmarkId::new(format!("{w}x{h}->426x240"), format!("{backend:?}")),
                &src,
                |b, src| {
                    b.iter(|| {
                        scaler
                            .scale_frame(black_box(src), &mut dst)
                            .expect("sizes match")
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, scaler);
criterion_main!(benches);
