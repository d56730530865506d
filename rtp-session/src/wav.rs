//! A strict reader for the RIFF/WAVE files the prompts are stored in: 8 kHz, mono, 16-bit
//! little-endian PCM, the telephone format G.711 is encoded from. Anything else is an error
//! rather than a resampling job; `assets/prompts/generate.sh` produces the right format.

/// The only sample rate accepted (G.711's).
pub const SAMPLE_RATE: u32 = 8000;

/// Why a WAV file cannot be used as a prompt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    /// Does not start with a `RIFF....WAVE` header.
    #[error("not a RIFF/WAVE file")]
    NotWave,
    /// A chunk header or body runs past the end of the file.
    #[error("chunk {id:?} runs past the end of the file")]
    TruncatedChunk {
        /// The chunk id (lossy text).
        id: String,
    },
    /// No `fmt ` chunk before the `data` chunk.
    #[error("no fmt chunk before the data chunk")]
    MissingFormat,
    /// The `fmt ` chunk is shorter than the 16 bytes of PCM format.
    #[error("fmt chunk of {len} bytes, need 16")]
    ShortFormat {
        /// Its length.
        len: usize,
    },
    /// No `data` chunk.
    #[error("no data chunk")]
    MissingData,
    /// Not integer PCM (format tag 1, or 0xFFFE with the PCM sub-format).
    #[error("format tag {tag:#06x} is not integer PCM")]
    NotPcm {
        /// The format tag.
        tag: u16,
    },
    /// Not 8000 Hz.
    #[error("sample rate {rate} Hz, need 8000")]
    SampleRate {
        /// The rate found.
        rate: u32,
    },
    /// Not mono.
    #[error("{channels} channels, need mono")]
    Channels {
        /// The channel count found.
        channels: u16,
    },
    /// Not 16 bits per sample.
    #[error("{bits} bits per sample, need 16")]
    BitsPerSample {
        /// The sample size found.
        bits: u16,
    },
    /// The data chunk holds an odd number of bytes.
    #[error("data chunk of {len} bytes is not whole 16-bit samples")]
    PartialSample {
        /// Its length.
        len: usize,
    },
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at + 2)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Checks a `fmt ` chunk body is 8 kHz mono 16-bit integer PCM.
fn check_format(fmt: &[u8]) -> Result<(), WavError> {
    let short = || WavError::ShortFormat { len: fmt.len() };
    let tag = u16_at(fmt, 0).ok_or_else(short)?;
    let channels = u16_at(fmt, 2).ok_or_else(short)?;
    let rate = u32_at(fmt, 4).ok_or_else(short)?;
    let bits = u16_at(fmt, 14).ok_or_else(short)?;
    let pcm = match tag {
        1 => true,
        // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the real tag at offset 24.
        0xFFFE => u16_at(fmt, 24) == Some(1),
        _ => false,
    };
    if !pcm {
        return Err(WavError::NotPcm { tag });
    }
    if channels != 1 {
        return Err(WavError::Channels { channels });
    }
    if rate != SAMPLE_RATE {
        return Err(WavError::SampleRate { rate });
    }
    if bits != 16 {
        return Err(WavError::BitsPerSample { bits });
    }
    Ok(())
}

/// Reads the samples of an 8 kHz mono 16-bit PCM WAV file, walking its chunks (unknown chunks
/// such as `LIST` are skipped). Never panics, whatever the bytes.
///
/// # Errors
/// [`WavError`] if the file is malformed or in any other format.
pub fn parse_wav(bytes: &[u8]) -> Result<Vec<i16>, WavError> {
    if bytes.get(..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Err(WavError::NotWave);
    }
    let mut offset = 12;
    let mut format_ok = false;
    while offset < bytes.len() {
        let id_bytes = bytes.get(offset..offset + 4).unwrap_or(&bytes[offset..]);
        let id = String::from_utf8_lossy(id_bytes).into_owned();
        let truncated = || WavError::TruncatedChunk { id: id.clone() };
        let size = u32_at(bytes, offset + 4).ok_or_else(truncated)?;
        let size = usize::try_from(size).map_err(|_| truncated())?;
        let start = offset + 8;
        let body = start
            .checked_add(size)
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(truncated)?;
        match id_bytes {
            b"fmt " => {
                check_format(body)?;
                format_ok = true;
            }
            b"data" => {
                if !format_ok {
                    return Err(WavError::MissingFormat);
                }
                if body.len() % 2 != 0 {
                    return Err(WavError::PartialSample { len: body.len() });
                }
                return Ok(body
                    .chunks_exact(2)
                    .map(|s| i16::from_le_bytes([s[0], s[1]]))
                    .collect());
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        offset = start + size + size % 2;
    }
    Err(WavError::MissingData)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fmt_chunk(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let block_align = channels * bits / 8;
        let mut c = b"fmt ".to_vec();
        c.extend_from_slice(&16u32.to_le_bytes());
        c.extend_from_slice(&tag.to_le_bytes());
        c.extend_from_slice(&channels.to_le_bytes());
        c.extend_from_slice(&rate.to_le_bytes());
        c.extend_from_slice(&(rate * u32::from(block_align)).to_le_bytes());
        c.extend_from_slice(&block_align.to_le_bytes());
        c.extend_from_slice(&bits.to_le_bytes());
        c
    }

    fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut c = id.to_vec();
        c.extend_from_slice(&u32::try_from(body.len()).unwrap_or(0).to_le_bytes());
        c.extend_from_slice(body);
        if body.len() % 2 == 1 {
            c.push(0);
        }
        c
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut f = b"RIFF".to_vec();
        f.extend_from_slice(&u32::try_from(body.len() + 4).unwrap_or(0).to_le_bytes());
        f.extend_from_slice(b"WAVE");
        f.extend(body);
        f
    }

    fn data(samples: &[i16]) -> Vec<u8> {
        let body: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        chunk(b"data", &body)
    }

    #[test]
    fn reads_samples_of_a_telephone_format_file() {
        let file = riff(&[
            fmt_chunk(1, 1, 8000, 16),
            data(&[0, 1, -1, i16::MAX, i16::MIN]),
        ]);
        assert_eq!(parse_wav(&file), Ok(vec![0, 1, -1, i16::MAX, i16::MIN]));
    }

    #[test]
    fn skips_unknown_and_odd_sized_chunks() {
        let file = riff(&[
            chunk(b"LIST", b"INFOISFT\x03\0\0\0abc"),
            fmt_chunk(1, 1, 8000, 16),
            chunk(b"fact", &[1, 2, 3]),
            data(&[5, 6]),
        ]);
        assert_eq!(parse_wav(&file), Ok(vec![5, 6]));
    }

    #[test]
    fn rejects_other_sample_rates_channels_and_sizes() {
        let with = |fmt| riff(&[fmt, data(&[0])]);
        assert_eq!(
            parse_wav(&with(fmt_chunk(1, 1, 22050, 16))),
            Err(WavError::SampleRate { rate: 22050 })
        );
        assert_eq!(
            parse_wav(&with(fmt_chunk(1, 2, 8000, 16))),
            Err(WavError::Channels { channels: 2 })
        );
        assert_eq!(
            parse_wav(&with(fmt_chunk(1, 1, 8000, 8))),
            Err(WavError::BitsPerSample { bits: 8 })
        );
        assert_eq!(
            parse_wav(&with(fmt_chunk(7, 1, 8000, 8))),
            Err(WavError::NotPcm { tag: 7 })
        );
    }

    #[test]
    fn rejects_files_that_are_not_riff_wave() {
        assert_eq!(parse_wav(b""), Err(WavError::NotWave));
        assert_eq!(parse_wav(b"RIFF\0\0\0\0AVI LIST"), Err(WavError::NotWave));
    }

    #[test]
    fn rejects_data_before_fmt_and_missing_chunks() {
        assert_eq!(
            parse_wav(&riff(&[data(&[1]), fmt_chunk(1, 1, 8000, 16)])),
            Err(WavError::MissingFormat)
        );
        assert_eq!(
            parse_wav(&riff(&[fmt_chunk(1, 1, 8000, 16)])),
            Err(WavError::MissingData)
        );
        assert_eq!(
            parse_wav(&riff(&[chunk(b"fmt ", &[1, 0, 1, 0])])),
            Err(WavError::ShortFormat { len: 4 })
        );
    }

    #[test]
    fn rejects_truncated_data_and_half_samples() {
        let mut file = riff(&[fmt_chunk(1, 1, 8000, 16), data(&[1, 2, 3])]);
        file.truncate(file.len() - 1);
        assert_eq!(
            parse_wav(&file),
            Err(WavError::TruncatedChunk { id: "data".into() })
        );
        let file = riff(&[fmt_chunk(1, 1, 8000, 16), chunk(b"data", &[1, 2, 3])]);
        assert_eq!(parse_wav(&file), Err(WavError::PartialSample { len: 3 }));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_after_a_riff_header_never_panic(
            tail in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut file = b"RIFF\0\0\0\0WAVE".to_vec();
            file.extend(tail);
            let _ = parse_wav(&file);
        }
    }
}
