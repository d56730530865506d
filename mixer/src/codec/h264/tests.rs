use super::*;
use crate::frame::Yuv;
use proptest::prelude::*;

/// Frame `n` of a test scene: a gradient background, a square moving across it, and a little
/// pseudo-random texture so that rate control has something to spend bits on.
fn scene(width: u32, height: u32, n: u32) -> I420Frame {
    let mut frame = I420Frame::new(width, height).unwrap();
    let mut seed = 0x9E37_79B9u32.wrapping_mul(n + 1);
    let [mut y, mut u, mut v] = frame.planes_mut();
    for row in 0..y.height() {
        for (x, px) in y.row_mut(row).iter_mut().enumerate() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let noise = (seed >> 28) as usize;
            *px = (16 + (x + row + noise) % 200) as u8;
        }
    }
    u.fill(110);
    v.fill(150);
    let side = height / 3;
    let x = (n * 7) % (width - side);
    frame
        .fill_rect(
            crate::layout::Rect {
                x: x & !1,
                y: (height / 3) & !1,
                width: side & !1,
                height: side & !1,
            },
            Yuv::from_rgb(220, 40, 40),
        )
        .unwrap();
    frame
}

fn config(width: u32, height: u32, bitrate_bps: u32) -> EncoderConfig {
    EncoderConfig {
        width,
        height,
        fps: 30.0,
        bitrate_bps,
        profile: H264Profile::ConstrainedBaseline,
        max_nal_bytes: None,
        temporal_layers: 1,
    }
}

fn types(frame: &EncodedFrame) -> Vec<u8> {
    frame.nal_units().filter_map(nal_unit_type).collect()
}

/// Mean absolute luma difference.
fn luma_error(a: &I420Frame, b: &I420Frame) -> f64 {
    let (pa, pb) = (a.plane(PlaneKind::Y), b.plane(PlaneKind::Y));
    let mut sum = 0u64;
    for row in 0..pa.height() {
        for (x, y) in pa.row(row).iter().zip(pb.row(row)) {
            sum += u64::from(x.abs_diff(*y));
        }
    }
    sum as f64 / (pa.width() * pa.height()) as f64
}

#[test]
fn every_idr_is_preceded_by_sps_and_pps() {
    let mut enc = H264Encoder::new(config(320, 180, 600_000)).unwrap();
    for n in 0..12 {
        let forced = n == 6;
        let out = enc.encode(&scene(320, 180, n), forced).unwrap();
        let t = types(&out);
        if n == 0 || forced {
            assert!(out.keyframe, "frame {n}");
            let idr = t.iter().position(|&x| x == NAL_IDR).unwrap();
            assert_eq!(&t[..2], &[NAL_SPS, NAL_PPS], "frame {n}: {t:?}");
            assert!(idr >= 2, "frame {n}: {t:?}");
        } else if !out.data.is_empty() {
            assert!(!out.keyframe, "frame {n}: {t:?}");
            assert!(t.iter().all(|&x| x == NAL_SLICE), "frame {n}: {t:?}");
        }
    }
}

#[test]
fn requested_keyframe_arrives_on_the_next_frame() {
    let mut enc = H264Encoder::new(config(320, 180, 600_000)).unwrap();
    for n in 0..4 {
        enc.encode(&scene(320, 180, n), false).unwrap();
    }
    enc.request_keyframe();
    let out = enc.encode(&scene(320, 180, 4), false).unwrap();
    assert!(out.keyframe);
    assert_eq!(&types(&out)[..3], &[NAL_SPS, NAL_PPS, NAL_IDR]);
    let next = enc.encode(&scene(320, 180, 5), false).unwrap();
    assert!(!next.keyframe);
}

#[test]
fn output_uses_four_byte_start_codes_only() {
    let mut enc = H264Encoder::new(config(320, 180, 600_000)).unwrap();
    for n in 0..3 {
        let out = enc.encode(&scene(320, 180, n), false).unwrap();
        let mut rebuilt = Vec::new();
        for nal in out.nal_units() {
            push_nal(&mut rebuilt, nal);
        }
        assert_eq!(rebuilt, out.data);
        assert!(out.data.starts_with(&START_CODE));
    }
}

#[test]
fn sps_says_constrained_baseline() {
    let mut enc = H264Encoder::new(config(640, 360, 800_000)).unwrap();
    let out = enc.encode(&scene(640, 360, 0), false).unwrap();
    let sps = out
        .nal_units()
        .find(|n| nal_unit_type(n) == Some(NAL_SPS))
        .unwrap();
    assert_eq!(sps[1], 66, "profile_idc");
    assert_ne!(sps[2] & 0x40, 0, "constraint_set1_flag");
}

#[test]
fn decoded_frames_match_the_source() {
    let (w, h) = (320, 180);
    let mut enc = H264Encoder::new(config(w, h, 1_500_000)).unwrap();
    let mut dec = H264Decoder::new().unwrap();
    let mut decoded = 0;
    for n in 0..10 {
        let src = scene(w, h, n);
        let out = enc.encode(&src, false).unwrap();
        if out.data.is_empty() {
            continue;
        }
        let frame = dec
            .decode(&out.data)
            .unwrap()
            .expect("a picture per access unit");
        assert_eq!((frame.width(), frame.height()), (w, h));
        let err = luma_error(&src, &frame);
        assert!(err < 8.0, "frame {n}: mean luma error {err:.2}");
        let centre = frame.pixel(w / 2, 2);
        assert!(centre.y > 16);
        decoded += 1;
    }
    assert!(decoded >= 8);
}

#[test]
fn decoded_pictures_reuse_the_planes_of_dropped_ones_and_stay_exact() {
    // A size no other test decodes: the picture pool is shared by the test threads.
    let (w, h) = (304, 176);
    let mut enc = H264Encoder::new(config(w, h, 1_500_000)).unwrap();
    let mut dec = H264Decoder::new().unwrap();
    let mut previous_luma = None;
    let mut reused = 0;
    for n in 0..6 {
        let src = scene(w, h, n);
        let out = enc.encode(&src, false).unwrap();
        let frame = dec.decode(&out.data).unwrap().expect("a picture");
        let address = frame.plane(PlaneKind::Y).data().as_ptr() as usize;
        if previous_luma == Some(address) {
            reused += 1;
        }
        // A stale picture left in a recycled buffer would show as a large error here.
        let err = luma_error(&src, &frame);
        assert!(err < 8.0, "frame {n}: mean luma error {err:.2}");
        previous_luma = Some(address);
        drop(frame);
    }
    assert!(
        reused >= 4,
        "only {reused} of 5 pictures reused the last one's plane"
    );
}

#[test]
fn decoder_recovers_at_the_next_keyframe_after_loss() {
    let (w, h) = (320, 180);
    let mut enc = H264Encoder::new(config(w, h, 600_000)).unwrap();
    let units: Vec<_> = (0..8)
        .map(|n| enc.encode(&scene(w, h, n), n == 5).unwrap())
        .collect();
    let mut dec = H264Decoder::new().unwrap();
    // The IDR (frame 0) is lost: P-frames alone give no picture.
    for unit in &units[1..5] {
        assert!(!matches!(dec.decode(&unit.data), Ok(Some(_))));
    }
    // Frame 5 is an IDR with SPS/PPS: decoding resumes.
    assert!(units[5].keyframe);
    assert!(dec.decode(&units[5].data).unwrap().is_some());
    // Rate control may skip a frame after the IDR (empty data); the rest decode.
    for unit in units[6..].iter().filter(|u| !u.data.is_empty()) {
        assert!(dec.decode(&unit.data).unwrap().is_some());
    }
}

#[test]
fn parameter_sets_alone_give_no_picture() {
    let mut enc = H264Encoder::new(config(320, 180, 600_000)).unwrap();
    let out = enc.encode(&scene(320, 180, 0), false).unwrap();
    let mut dec = H264Decoder::new().unwrap();
    let mut sets = Vec::new();
    for nal in out
        .nal_units()
        .filter(|n| matches!(nal_unit_type(n), Some(NAL_SPS | NAL_PPS)))
    {
        push_nal(&mut sets, nal);
    }
    assert_eq!(dec.decode(&sets).unwrap(), None);
    assert_eq!(dec.decode(&[]).unwrap(), None);
}

#[test]
fn lowering_the_bitrate_shrinks_the_frames() {
    let (w, h) = (640, 360);
    let mut enc = H264Encoder::new(config(w, h, 2_000_000)).unwrap();
    let mut sizes = Vec::new();
    for n in 0..60 {
        if n == 30 {
            enc.set_bitrate(150_000).unwrap();
        }
        sizes.push(enc.encode(&scene(w, h, n), false).unwrap().data.len());
    }
    let high: usize = sizes[15..30].iter().sum();
    let low: usize = sizes[45..60].iter().sum();
    assert!(low * 3 < high, "high {high} bytes, low {low} bytes");
    // Going back up works too (the maximum is raised before the target).
    enc.set_bitrate(3_000_000).unwrap();
    assert_eq!(enc.config().bitrate_bps, 3_000_000);
    enc.encode(&scene(w, h, 60), false).unwrap();
}

#[test]
fn set_bitrate_before_the_first_frame_is_fine() {
    let mut enc = H264Encoder::new(config(320, 180, 600_000)).unwrap();
    enc.set_bitrate(300_000).unwrap();
    assert!(enc.encode(&scene(320, 180, 0), false).unwrap().keyframe);
    assert!(enc.set_bitrate(0).is_err());
}

#[test]
fn nal_size_limit_holds_even_for_keyframes() {
    let max = 1_100;
    let mut cfg = config(640, 360, 2_500_000);
    cfg.max_nal_bytes = Some(max);
    let mut enc = H264Encoder::new(cfg).unwrap();
    for n in 0..5 {
        let out = enc.encode(&scene(640, 360, n), n == 3).unwrap();
        let biggest = out.largest_nal();
        assert!(biggest <= max, "frame {n}: NAL of {biggest} bytes");
        if n == 0 || n == 3 {
            assert!(out.keyframe);
            assert!(
                out.nal_units()
                    .filter(|n| nal_unit_type(n) == Some(NAL_IDR))
                    .count()
                    > 1
            );
        }
    }
}

#[test]
fn a_frame_of_another_size_is_refused() {
    let mut enc = H264Encoder::new(config(320, 180, 600_000)).unwrap();
    assert_eq!(
        enc.encode(&scene(640, 360, 0), false),
        Err(CodecError::FrameSizeMismatch {
            width: 320,
            height: 180,
            got_width: 640,
            got_height: 360
        })
    );
}

#[test]
fn bad_configs_are_refused() {
    for cfg in [
        config(321, 180, 600_000),
        config(8, 8, 600_000),
        config(4096, 2160, 600_000),
        config(320, 180, 10),
        EncoderConfig {
            fps: 0.0,
            ..config(320, 180, 600_000)
        },
        EncoderConfig {
            max_nal_bytes: Some(100),
            ..config(320, 180, 600_000)
        },
    ] {
        assert!(
            matches!(
                H264Encoder::new(cfg.clone()),
                Err(CodecError::InvalidConfig(_))
            ),
            "{cfg:?}"
        );
    }
    assert!(H264Encoder::new(EncoderConfig::hd720()).is_ok());
}

#[test]
fn frames_with_padded_strides_encode() {
    let (w, h) = (64, 48);
    let src = scene(w, h, 3);
    let pad = |p: PlaneKind, extra: usize| {
        let plane = src.plane(p);
        let mut out = Vec::new();
        for y in 0..plane.height() {
            out.extend_from_slice(plane.row(y));
            if y + 1 < plane.height() {
                out.extend(std::iter::repeat_n(0, extra));
            }
        }
        out
    };
    let padded = I420Frame::from_planes(
        w,
        h,
        pad(PlaneKind::Y, 16),
        pad(PlaneKind::U, 8),
        pad(PlaneKind::V, 8),
        [80, 40, 40],
    )
    .unwrap();
    let mut enc = H264Encoder::new(config(w, h, 500_000)).unwrap();
    let mut dec = H264Decoder::new().unwrap();
    let out = enc.encode(&padded, false).unwrap();
    let frame = dec.decode(&out.data).unwrap().unwrap();
    assert!(luma_error(&src, &frame) < 8.0);
}

#[test]
fn nal_units_split_mixed_start_codes() {
    let stream = [
        9, 9, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4, 5, 0, 0, 1,
    ];
    let nals: Vec<&[u8]> = nal_units(&stream).collect();
    assert_eq!(nals, [&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4, 5]]);
    assert_eq!(nal_unit_type(nals[2]), Some(NAL_IDR));
    assert_eq!(nal_units(&[1, 2, 3]).count(), 0);
    assert_eq!(nal_unit_type(&[]), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn garbage_never_panics_the_decoder(
        data in proptest::collection::vec(any::<u8>(), 0..2_000),
        with_start_code in any::<bool>(),
    ) {
        let mut dec = H264Decoder::new().unwrap();
        let mut unit = if with_start_code { START_CODE.to_vec() } else { Vec::new() };
        unit.extend(data);
        let _ = dec.decode(&unit);
    }

    #[test]
    fn corrupted_access_units_never_panic_the_decoder(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..20),
    ) {
        let mut enc = H264Encoder::new(config(160, 96, 300_000)).unwrap();
        let mut dec = H264Decoder::new().unwrap();
        for n in 0..3 {
            let mut unit = enc.encode(&scene(160, 96, n), false).unwrap().data;
            if n > 0 {
                for (at, value) in &flips {
                    let i = at.index(unit.len());
                    unit[i] ^= value;
                }
            }
            let _ = dec.decode(&unit);
        }
    }
}

#[test]
fn temporal_layers_are_tagged_and_droppable() {
    let mut enc = H264Encoder::new(EncoderConfig {
        temporal_layers: 3,
        ..config(320, 180, 2_000_000)
    })
    .unwrap();
    let units: Vec<EncodedFrame> = (0..26)
        .map(|n| enc.encode(&scene(320, 180, n), false).unwrap())
        .collect();
    let tids: Vec<u8> = units
        .iter()
        .map(|u| crate::simulcast::temporal_id(&u.data))
        .collect();
    // After the restart into layers (an IDR), the dyadic pattern T0 T2 T1 T2.
    let restart = units.iter().skip(1).position(|u| u.keyframe).unwrap() + 1;
    assert!(restart <= 2, "restart at {restart}");
    let pattern: Vec<u8> = tids[restart..restart + 8].to_vec();
    assert_eq!(pattern, [0, 2, 1, 2, 0, 2, 1, 2], "{tids:?}");
    // Every subset of layers decodes without a single error, at 1/4, 1/2 and full rate.
    for max in 0..3u8 {
        let mut dec = H264Decoder::new().unwrap();
        let mut pictures = 0;
        for (u, &tid) in units.iter().zip(&tids).skip(restart) {
            if tid <= max && !u.data.is_empty() {
                assert!(dec.decode(&u.data).unwrap().is_some(), "max tid {max}");
                pictures += 1;
            }
        }
        // Base layer alone: a quarter of the frames; two layers: half.
        let all = 26 - restart;
        assert!(pictures * (4 >> max) >= all - 3, "{pictures} of {all}");
    }
}
