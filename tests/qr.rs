//! QR codes through the public API: every rendering read back by a real decoder (SVG
//! rasterised by `rsvg-convert`, then `zbarimg`), the structure of the SVG, the terminal and
//! matrix renderings, and the size limits.
// Helpers outside `#[test]` functions fail the test by panicking, like the tests themselves.
#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "data/uri/cases.rs"]
mod cases;
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use twofa::qr::{Color, ErrorCorrection, QrError, SvgOptions};
use twofa::{Error, OtpAuthUri, QrCode, Secret, Totp};

const LEVELS: [ErrorCorrection; 4] = [
    ErrorCorrection::Low,
    ErrorCorrection::Medium,
    ErrorCorrection::Quartile,
    ErrorCorrection::High,
];

fn decoders_available() -> bool {
    common::external_tool("rsvg-convert", &["--version"])
        && common::external_tool("zbarimg", &["--version"])
}

/// A scratch directory of this test process, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("twofa-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What `zbarimg` reads in a PNG file: exactly one QR code's text.
fn zbar(png: &Path) -> String {
    let out = Command::new("zbarimg")
        .args(["--raw", "--quiet", "-Sdisable", "-Sqrcode.enable"])
        .arg(png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "zbarimg found no code in {}: {}",
        png.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    text.strip_suffix('\n').unwrap_or(&text).to_string()
}

/// Rasterises an SVG with `rsvg-convert` (at `width` pixels when given) and decodes it.
fn decode_svg(svg: &str, dir: &Path, name: &str, width: Option<u32>) -> String {
    let svg_path = dir.join(format!("{name}.svg"));
    let png_path = dir.join(format!("{name}.png"));
    std::fs::write(&svg_path, svg).unwrap();
    let mut rsvg = Command::new("rsvg-convert");
    if let Some(width) = width {
        rsvg.args(["-w", &width.to_string()]);
    }
    let status = rsvg
        .args(["-b", "white", "-o"])
        .arg(&png_path)
        .arg(&svg_path)
        .status()
        .unwrap();
    assert!(status.success(), "rsvg-convert failed on {name}");
    zbar(&png_path)
}

/// The URIs to render: every case of `cases.tsv` and a few more.
fn uris() -> Vec<OtpAuthUri> {
    let mut uris: Vec<OtpAuthUri> = cases::cases().iter().map(cases::Case::uri).collect();
    let totp = Totp::new(Secret::from_bytes(&[0x5a; 20]).unwrap());
    for (issuer, account) in [
        (Some("Plausible Analytics"), "alice@example.com"),
        (None, "no-issuer@example.com"),
        (Some("Ünïcødé GmbH"), "🔐🔑"),
    ] {
        uris.push(
            OtpAuthUri::for_totp(&totp, account)
                .issuer(issuer)
                .build()
                .unwrap(),
        );
    }
    uris
}

/// SVG options to cycle through; the width to rasterise at when the SVG leaves it open.
fn svg_variants() -> Vec<(SvgOptions, Option<u32>)> {
    vec![
        (SvgOptions::default(), None),
        (
            SvgOptions::new()
                .dark(Color::from_hex("#1d4ed8").unwrap())
                .light(Color::from_hex("#fefce8").unwrap())
                .title("Scan <me> & \"enrol\""),
            None,
        ),
        (SvgOptions::new().module_size(0), Some(600)),
        (SvgOptions::new().module_size(4), None),
    ]
}

#[test]
fn zbarimg_reads_every_svg_rendering_back_to_the_uri() {
    if !decoders_available() {
        return;
    }
    let scratch = Scratch::new("qr-svg");
    let uris = uris();
    assert!(uris.len() >= 50, "{}", uris.len());
    let variants = svg_variants();
    for (i, uri) in uris.iter().enumerate() {
        let text = uri.to_string();
        let level = LEVELS[i % LEVELS.len()];
        let qr = QrCode::from_uri_with(uri, level).unwrap();
        assert!(qr.error_correction() >= level);
        let (options, width) = &variants[i % variants.len()];
        let svg = qr.to_svg_with(options);
        let decoded = decode_svg(&svg, &scratch.0, &format!("uri-{i}"), *width);
        assert_eq!(decoded, text, "case {i}, {level:?}, {options:?}");
        // The data URI carries the same document.
        let data = qr.to_data_uri_with(options);
        let base64 = data.strip_prefix("data:image/svg+xml;base64,").unwrap();
        assert_eq!(
            data_encoding_free_base64_decode(base64),
            svg.as_bytes(),
            "case {i}"
        );
    }
}

#[test]
fn default_renderings_decode_too() {
    if !decoders_available() {
        return;
    }
    let scratch = Scratch::new("qr-default");
    let uri = &uris()[0];
    let qr = QrCode::from_uri(uri).unwrap();
    assert_eq!(qr.error_correction(), ErrorCorrection::Medium);
    assert_eq!(
        decode_svg(&qr.to_svg(), &scratch.0, "default", None),
        uri.to_string()
    );
    assert_eq!(
        qr.to_data_uri(),
        qr.to_data_uri_with(&SvgOptions::default())
    );
    // Any text, not only URIs.
    let text = "https://example.com/enable-2fa?step=2";
    let svg = QrCode::encode(text).unwrap().to_svg();
    assert_eq!(decode_svg(&svg, &scratch.0, "text", None), text);
}

#[cfg(feature = "png")]
#[test]
fn zbarimg_reads_the_png_rendering() {
    if !common::external_tool("zbarimg", &["--version"]) {
        return;
    }
    let scratch = Scratch::new("qr-png");
    for (i, uri) in uris().iter().enumerate().step_by(5) {
        let module_size = [2, 3, 8][i % 3];
        let png = QrCode::from_uri(uri).unwrap().to_png(module_size).unwrap();
        let path = scratch.0.join(format!("png-{i}.png"));
        std::fs::write(&path, png).unwrap();
        assert_eq!(zbar(&path), uri.to_string(), "case {i}");
    }
    assert_eq!(
        QrCode::encode("x").unwrap().to_png(0),
        Err(Error::Qr(QrError::ModuleSizeOutOfRange {
            size: 0,
            max: 32
        }))
    );
}

#[test]
fn svg_has_one_path_a_quiet_zone_and_a_title() {
    let qr = QrCode::from_uri(&uris()[0]).unwrap();
    let side = qr.size() + 2 * QrCode::QUIET_ZONE;
    let svg = qr.to_svg();
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    assert!(svg.ends_with("</svg>"));
    assert!(svg.contains(&format!("viewBox=\"0 0 {side} {side}\"")));
    let pixels = side * 8;
    assert!(svg.contains(&format!("width=\"{pixels}\" height=\"{pixels}\"")));
    assert!(svg.contains("shape-rendering=\"crispEdges\""));
    assert!(svg.contains("<title>QR code to scan with an authenticator app</title>"));
    assert_eq!(svg.matches("<path").count(), 1);
    assert!(svg.contains("fill=\"#000000\"") && svg.contains("fill=\"#ffffff\""));
    // Nothing is drawn in the quiet zone: every run starts at 4 or more and ends before
    // side - 4.
    let d = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    for run in d.split('z').filter(|r| !r.is_empty()) {
        let (xy, rest) = run.trim_start_matches('M').split_once('h').unwrap();
        let (x, y) = xy.split_once(' ').unwrap();
        let len: usize = rest.split_once('v').unwrap().0.parse().unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        assert!(
            x >= 4 && y >= 4 && x + len <= side - 4 && y < side - 4,
            "{run}"
        );
    }
    // The title is escaped, and no option puts the secret in the document in clear.
    let svg = qr.to_svg_with(&SvgOptions::new().title("</title><script>"));
    assert!(svg.contains("<title>&lt;/title&gt;&lt;script&gt;</title>"));
    let secret = uris()[0].secret().to_base32();
    assert!(!svg.contains(&*secret));
}

#[test]
fn terminal_and_matrix_agree() {
    let qr = QrCode::encode("otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap();
    let matrix = qr.to_matrix();
    let size = qr.size();
    assert_eq!(matrix.len(), size);
    assert!(matrix.iter().all(|row| row.len() == size));
    for (y, row) in matrix.iter().enumerate() {
        for (x, &dark) in row.iter().enumerate() {
            assert_eq!(qr.is_dark(x, y), dark);
        }
    }
    // The three finder patterns: a dark 7x7 ring in three corners.
    for (cx, cy) in [(0, 0), (size - 7, 0), (0, size - 7)] {
        for i in 0..7 {
            assert!(matrix[cy][cx + i] && matrix[cy + 6][cx + i]);
            assert!(matrix[cy + i][cx] && matrix[cy + i][cx + 6]);
        }
        assert!(!matrix[cy + 1][cx + 1] && matrix[cy + 3][cx + 3]);
    }
    let side = size + 8;
    for (inverted, text) in [(false, qr.to_terminal()), (true, qr.to_terminal_inverted())] {
        let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
        assert_eq!(lines.len(), side.div_ceil(2));
        assert!(text.ends_with('\n'));
        for y in 0..side {
            for x in 0..side {
                let c = lines[y / 2][x];
                let drawn = if y % 2 == 0 {
                    c == '█' || c == '▀'
                } else {
                    c == '█' || c == '▄'
                };
                let dark = x >= 4 && y >= 4 && x < size + 4 && y < size + 4 && matrix[y - 4][x - 4];
                assert_eq!(drawn, dark != inverted, "({x}, {y}), inverted: {inverted}");
            }
        }
    }
}

#[test]
fn size_limits() {
    // Every URI the crate accepts fits at the default level.
    let long = "x".repeat(OtpAuthUri::MAX_LEN);
    assert!(QrCode::encode(&long).is_ok());
    assert_eq!(
        QrCode::encode_with(&long, ErrorCorrection::High),
        Err(Error::Qr(QrError::DataTooLong {
            len: 2048,
            level: ErrorCorrection::High
        }))
    );
    let shown = QrCode::encode_with(&long, ErrorCorrection::High)
        .unwrap_err()
        .to_string();
    assert_eq!(
        shown,
        "QR code: 2048 bytes do not fit in a QR code at error correction level H"
    );
    let qr = QrCode::encode_with(&"y".repeat(QrCode::MAX_TEXT_LEN), ErrorCorrection::Low).unwrap();
    assert_eq!((qr.version(), qr.size()), (40, 177));
    assert!(
        QrCode::encode_with(&"y".repeat(QrCode::MAX_TEXT_LEN + 1), ErrorCorrection::Low).is_err()
    );
}

/// Standard base64 decoding, written out here so that the check does not trust the encoder
/// the crate uses.
fn data_encoding_free_base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let n = chunk.iter().fold(0u32, |acc, &c| acc << 6 | value(c)) << (6 * (4 - chunk.len()));
        let full = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&full[..chunk.len() - 1]);
    }
    out
}
