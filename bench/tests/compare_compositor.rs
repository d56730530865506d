//! Runs the real `compare compositor` (Tessera's compositor, libswscale and libyuv on the same
//! pictures) in its quick mode and checks what it prints: the composites agree closely plane by
//! plane, Tessera's tiles are at least as close to the float reference as libyuv's, and the
//! summary line has its documented format. Timings are not checked.

use std::process::Command;

/// Least PSNR (dB) between Tessera's canvas and each comparable swscale config's, per plane.
/// The filters differ (box/2-tap bilinear against swscale's wider kernels) so the pictures are
/// not identical; a shifted, swapped or garbled tile would fall far below these.
const MIN_PSNR: [f64; 3] = [30.0, 35.0, 35.0];

/// Least PSNR (dB) of Tessera's tiles against the float reference: its filters are the
/// reference's in fixed point, so only rounding separates them.
const MIN_REFERENCE_PSNR: f64 = 40.0;
/// How far (dB) Tessera may fall behind a libyuv filter against the reference: "equal or
/// better quality", with room for rounding.
const QUALITY_SLACK: f64 = 0.1;

fn number_after<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let rest = &text[text.find(label)? + label.len()..];
    rest.split_whitespace().next()
}

#[test]
fn quick_compare_agrees_with_swscale_and_prints_the_summary_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_compare"))
        .args(["compositor", "--quick"])
        .output()
        .expect("run compare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "compare failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let agreements: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("agreement ") && !l.contains("FAST_BILINEAR"))
        .collect();
    // Two inputs x two thread counts x two comparable configs.
    assert_eq!(agreements.len(), 8, "{stdout}");
    for line in agreements {
        for (plane, min) in ["Y", "U", "V"].into_iter().zip(MIN_PSNR) {
            let psnr: f64 = number_after(line, &format!("{plane} "))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {plane} PSNR in {line:?}"));
            assert!(psnr >= min, "{plane} PSNR {psnr} < {min}: {line}");
        }
    }

    let reference = |case: &str, who: &str| -> [f64; 3] {
        let prefix = format!("reference {case} {who}: ");
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line: {stdout}"));
        ["Y", "U", "V"].map(|plane| {
            number_after(line, &format!("{plane} "))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {plane} PSNR in {line:?}"))
        })
    };
    for case in ["1280x720 threads=1", "640x360 threads=1"] {
        let ours = reference(case, "tessera");
        for (plane, psnr) in ours.iter().enumerate() {
            assert!(
                *psnr >= MIN_REFERENCE_PSNR,
                "{case} plane {plane}: {ours:?}"
            );
        }
        for filter in ["kFilterBilinear", "kFilterBox"] {
            let theirs = reference(case, &format!("libyuv {filter}"));
            for plane in 0..3 {
                assert!(
                    ours[plane] + QUALITY_SLACK >= theirs[plane],
                    "{case}: tessera {ours:?} below libyuv {filter} {theirs:?}"
                );
            }
        }
    }

    let last = stdout.lines().last().expect("output");
    let tail = last
        .strip_prefix("compositor: tessera ")
        .unwrap_or_else(|| panic!("summary line: {last:?}"));
    let (tessera, tail) = tail
        .split_once(" ms/frame, swscale ")
        .expect("swscale part");
    let (swscale, tail) = tail
        .split_once(" ms/frame, speedup ")
        .expect("speedup part");
    let (speedup, tail) = tail.split_once("x, libyuv ").expect("libyuv part");
    let (libyuv, tail) = tail
        .split_once(" ms/frame, vs libyuv ")
        .expect("vs libyuv part");
    let vs_libyuv = tail.strip_suffix('x').expect("ends with x");
    for value in [tessera, swscale, speedup, libyuv, vs_libyuv] {
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("{value:?} in {last:?}"));
        assert!(v.is_finite() && v > 0.0, "{last}");
    }
}
