//! Minimal, deterministic PNG encoder for 8-bit RGB buffers.
//!
//! Encoding in memory (instead of letting `image` write to a path) lets the
//! PNG go through [`super::write_atomic`] like every other output. The file
//! has only IHDR, IDAT and IEND chunks: no timestamps or other metadata.

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Encodes a top-to-bottom, row-major RGB8 buffer (`width * height * 3`
/// bytes) as PNG.
pub(crate) fn encode_rgb8(width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>, String> {
    let stride = (width as usize).checked_mul(3).ok_or("image too wide")?;
    let expected = stride.checked_mul(height as usize).ok_or("image too large")?;
    if width == 0 || height == 0 {
        return Err(format!("empty image ({width}x{height})"));
    }
    if rgb.len() != expected {
        return Err(format!(
            "pixel buffer has {} bytes, expected {expected} for {width}x{height} RGB",
            rgb.len()
        ));
    }

    // Scanlines, each prefixed by its filter type. "Up" (2) makes the long
    // runs of identical rows in a plot (background, vertical grid lines)
    // compress to almost nothing; the first row has an implicit zero row above.
    let mut raw = Vec::with_capacity(expected + height as usize);
    let mut prev: &[u8] = &[];
    for row in rgb.chunks_exact(stride) {
        raw.push(2u8);
        if prev.is_empty() {
            raw.extend_from_slice(row);
        } else {
            raw.extend(row.iter().zip(prev).map(|(c, p)| c.wrapping_sub(*p)));
        }
        prev = row;
    }

    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    z.write_all(&raw).map_err(|e| format!("deflate: {e}"))?;
    let idat = z.finish().map_err(|e| format!("deflate: {e}"))?;

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);

    let mut out = Vec::with_capacity(idat.len() + 64);
    out.extend_from_slice(&SIGNATURE);
    chunk(&mut out, b"IHDR", &ihdr)?;
    chunk(&mut out, b"IDAT", &idat)?;
    chunk(&mut out, b"IEND", &[])?;
    Ok(out)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) -> Result<(), String> {
    let len = u32::try_from(data.len()).map_err(|_| "PNG chunk too large".to_owned())?;
    out.extend_from_slice(&len.to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) as used by PNG.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c = TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
    }
    c ^ 0xFFFF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::ZlibDecoder;
    use std::io::Read;

    #[test]
    fn crc32_known_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        // CRC of the IEND chunk type, present in every PNG.
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn round_trip_structure() {
        let (w, h) = (3u32, 2u32);
        let px: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 256) as u8).collect();
        let png = encode_rgb8(w, h, &px).unwrap();
        assert_eq!(&png[..8], &SIGNATURE);
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");
        // Decode IDAT and undo the Up filter.
        let idat_len = u32::from_be_bytes(png[33..37].try_into().unwrap()) as usize;
        assert_eq!(&png[37..41], b"IDAT");
        let mut raw = Vec::new();
        ZlibDecoder::new(&png[41..41 + idat_len])
            .read_to_end(&mut raw)
            .unwrap();
        let stride = (w * 3) as usize;
        let mut prev = vec![0u8; stride];
        let mut decoded = Vec::new();
        for line in raw.chunks_exact(stride + 1) {
            assert_eq!(line[0], 2);
            let row: Vec<u8> = line[1..]
                .iter()
                .zip(&prev)
                .map(|(d, p)| d.wrapping_add(*p))
                .collect();
            decoded.extend_from_slice(&row);
            prev = row;
        }
        assert_eq!(decoded, px);
    }

    #[test]
    fn rejects_bad_buffer() {
        assert!(encode_rgb8(2, 2, &[0; 11]).is_err());
        assert!(encode_rgb8(0, 2, &[]).is_err());
    }
}
